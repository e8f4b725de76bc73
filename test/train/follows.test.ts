import { describe, expect, it } from 'vitest';
import { DatasetBuilder } from '../../src/data/dataset.js';
import { historyOf, userTotals } from '../../src/data/history.js';
import { buildUserItems } from '../../src/data/interactions.js';
import { eventTypeCode } from '../../src/data/types.js';
import type { HnswIndex } from '../../src/index/hnsw.js';
import { retrieve, SOURCE_CHAIN, SOURCE_FOLLOWS, SOURCE_KNN, type RetrievalConfig } from '../../src/index/retrieve.js';
import { knnSimilarity } from '../../src/model/knn.js';
import { trainFollows } from '../../src/train/follows.js';
import { trainItemKnn } from '../../src/train/itemknn.js';

/** Events as [user, item, time]; the file order is the order given. */
function shop(rows: [string, string, number][]) {
  const b = new DatasetBuilder();
  for (const [u, i, t] of rows) b.addEvent(u, i, eventTypeCode('purchase'), t);
  const ds = b.build({ format: 'test', path: '-', files: [] });
  const all = Int32Array.from({ length: ds.numEvents }, (_, e) => e);
  const id = (s: string): number => ds.items.indexOf(s);
  return { ds, all, id };
}

describe('follows (directed co-visitation)', () => {
  it('links an item to what came after it, by 1 / distance over (occurrences + 5), not the other way', () => {
    const { ds, all, id } = shop([
      ['u1', 'a', 1],
      ['u1', 'b', 2],
      ['u1', 'c', 3],
    ]);
    const f = trainFollows(ds.events, all, ds.numItems, { window: 10, k: 10, baskets: true });
    expect(knnSimilarity(f, id('a'), id('b'))).toBeCloseTo(1 / 6, 6);
    expect(knnSimilarity(f, id('a'), id('c'))).toBeCloseTo(0.5 / 6, 6);
    expect(knnSimilarity(f, id('b'), id('a'))).toBe(0);
    expect(knnSimilarity(f, id('c'), id('b'))).toBe(0);
  });

  it('looks only `window` events ahead and never across shoppers, whatever the file order', () => {
    // u2's events interleaved with u1's and listed out of time order.
    const { ds, all, id } = shop([
      ['u1', 'a', 1],
      ['u2', 'd', 5],
      ['u1', 'c', 3],
      ['u2', 'e', 4],
      ['u1', 'b', 2],
    ]);
    const f = trainFollows(ds.events, all, ds.numItems, { window: 1, k: 10, baskets: true });
    expect(knnSimilarity(f, id('a'), id('b'))).toBeGreaterThan(0);
    expect(knnSimilarity(f, id('b'), id('c'))).toBeGreaterThan(0);
    expect(knnSimilarity(f, id('a'), id('c'))).toBe(0);
    expect(knnSimilarity(f, id('e'), id('d'))).toBeGreaterThan(0);
    expect(knnSimilarity(f, id('c'), id('e'))).toBe(0);
  });

  it('counts lines of one basket both ways, unless the file order is the true order', () => {
    const rows: [string, string, number][] = [
      ['u1', 'a', 1],
      ['u1', 'b', 1],
    ];
    const basket = shop(rows);
    const both = trainFollows(basket.ds.events, basket.all, basket.ds.numItems, { window: 10, k: 10, baskets: true });
    expect(knnSimilarity(both, basket.id('b'), basket.id('a'))).toBeCloseTo(1 / 6, 6);
    expect(knnSimilarity(both, basket.id('a'), basket.id('b'))).toBeCloseTo(1 / 6, 6);
    const ordered = trainFollows(basket.ds.events, basket.all, basket.ds.numItems, {
      window: 10,
      k: 10,
      baskets: false,
    });
    expect(knnSimilarity(ordered, basket.id('b'), basket.id('a'))).toBe(0);
    expect(knnSimilarity(ordered, basket.id('a'), basket.id('b'))).toBeCloseTo(1 / 6, 6);
  });

  it('keeps the k strongest followers, strongest first', () => {
    const rows: [string, string, number][] = [];
    // After x: y three times, z twice, w once.
    let t = 0;
    for (const [u, next] of [
      ['u1', 'y'],
      ['u2', 'y'],
      ['u3', 'y'],
      ['u4', 'z'],
      ['u5', 'z'],
      ['u6', 'w'],
    ]) {
      rows.push([u, 'x', t++], [u, next, t++]);
    }
    const { ds, all, id } = shop(rows);
    const f = trainFollows(ds.events, all, ds.numItems, { window: 10, k: 2, baskets: true });
    const x = id('x');
    expect(Array.from(f.neighbours.subarray(f.indptr[x], f.indptr[x + 1]))).toEqual([id('y'), id('z')]);
    expect(f.similarity[f.indptr[x]]).toBeCloseTo(3 / 11, 6);
  });
});

describe('retrieval from followers', () => {
  /** No HNSW, item-kNN or own candidates: what the graphs of followers give alone. */
  const FOLLOWERS_ONLY: RetrievalConfig = {
    candidates: 0,
    knnCandidates: 0,
    followCandidates: 0,
    chainCandidates: 0,
    attributeCandidates: 0,
    recentWindow: 5,
    baskets: true,
    ownCandidates: 0,
  };
  const noIndex = undefined as unknown as HnswIndex; // never searched: no vector, no HNSW candidates

  /** The shop of `rows` plus a shopper "me" who has a (excluded, as seen items are). */
  function shopperWithA(rows: [string, string, number][]) {
    rows.push(['me', 'a', 10]);
    const { ds, all, id } = shop(rows);
    const ui = buildUserItems(ds.events, all, ds.numUsers, ds.numItems);
    const graphs = {
      knn: trainItemKnn(ui, 10),
      follows: trainFollows(ds.events, all, ds.numItems, { window: 10, k: 10, baskets: true }),
    };
    const history = historyOf(ui, userTotals(ds.events, all, ds.numUsers), ds.users.indexOf('me'));
    const exclude = new Uint8Array(ds.numItems);
    exclude[id('a')] = 1;
    /** What "me" is offered under `cfg`: the items by name, and the source of each. */
    const offered = (cfg: RetrievalConfig): { items: string[]; source: number[] } => {
      const r = retrieve(noIndex, graphs, undefined, history, exclude, cfg);
      return { items: Array.from(r.items, (i) => ds.items.idAt(i)), source: Array.from(r.source) };
    };
    return { exclude, id, offered };
  }

  it('adds what shoppers went on to after the latest items, named as followers, within its budget', () => {
    // Everyone who bought a went on to b; c and d sit beside a (the same shoppers) but come before it.
    const rows: [string, string, number][] = [];
    for (let u = 0; u < 6; u++) rows.push([`u${u}`, 'c', 1], [`u${u}`, 'd', 2], [`u${u}`, 'a', 3], [`u${u}`, 'b', 4]);
    const { offered } = shopperWithA(rows);
    const cfg = { ...FOLLOWERS_ONLY, followCandidates: 1 };
    expect(offered(cfg)).toEqual({ items: ['b'], source: [SOURCE_FOLLOWS] });
    // Item-kNN first (symmetric: b, c and d all sit beside a; ties by index take c), then followers add b.
    expect(offered({ ...cfg, knnCandidates: 1, followCandidates: 3 })).toEqual({
      items: ['c', 'b'],
      source: [SOURCE_KNN, SOURCE_FOLLOWS],
    });
    // Where item-kNN already took b, followers have nothing new to add.
    const knnFirst = offered({ ...cfg, knnCandidates: 3 });
    expect(new Set(knnFirst.items)).toEqual(new Set(['b', 'c', 'd']));
    expect(knnFirst.source).toEqual([SOURCE_KNN, SOURCE_KNN, SOURCE_KNN]);
    expect(offered({ ...cfg, followCandidates: 0 }).items).toEqual([]);
  });

  it('adds, two steps ahead, what shoppers went on to after those followers', () => {
    // Shoppers go from a to b; others from b to e. "me" has a: b follows it, e follows b.
    const rows: [string, string, number][] = [];
    for (let u = 0; u < 6; u++) rows.push([`u${u}`, 'a', 1], [`u${u}`, 'b', 2]);
    for (let v = 0; v < 4; v++) rows.push([`v${v}`, 'b', 1], [`v${v}`, 'e', 2], [`v${v}`, 'f', 30]);
    const { exclude, id, offered } = shopperWithA(rows);
    const cfg = { ...FOLLOWERS_ONLY, followCandidates: 1, chainCandidates: 1 };
    // e, not f: e comes right after b (weight 1), f one event later (1/2 at distance 2).
    expect(offered(cfg)).toEqual({ items: ['b', 'e'], source: [SOURCE_FOLLOWS, SOURCE_CHAIN] });
    // The chain is seeded by the followers' ranking even where the followers take no place.
    expect(offered({ ...cfg, followCandidates: 0, chainCandidates: 2 })).toEqual({
      items: ['e', 'f'],
      source: [SOURCE_CHAIN, SOURCE_CHAIN],
    });
    // Excluded items are never offered, and with no budget nothing is.
    exclude[id('e')] = 1;
    expect(offered(cfg).items).toEqual(['b', 'f']);
    expect(offered({ ...cfg, followCandidates: 0, chainCandidates: 0 }).items).toEqual([]);
  });
});
