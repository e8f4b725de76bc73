import { describe, expect, it } from 'vitest';
import { encodeCatalog } from '../../src/data/catalog.js';
import type { UserHistory } from '../../src/data/history.js';
import type { HnswIndex } from '../../src/index/hnsw.js';
import { retrieve, SOURCE_ATTRIBUTES, type RetrievalConfig } from '../../src/index/retrieve.js';
import { attributeCandidates, attributeLists, profileTokens } from '../../src/model/attribute-lists.js';
import { Rng } from '../../src/util/rng.js';
import { Explainer } from '../../src/rank/explain.js';
import type { RecModel } from '../../src/rank/model.js';

/** Items with their attributes and training events; a category on the last two. */
const ITEMS: [string[], number][] = [
  [['lipstick', 'red'], 10], // 0: the shopper's latest
  [['lipstick', 'red'], 50], // 1
  [['lipstick'], 100], // 2
  [['shampoo'], 1000], // 3
  [['lipstick', 'red'], 0], // 4: never bought
  [['shampoo'], 5], // 5: the shopper's earlier item
  [['red'], 20], // 6
  [[], 3], // 7: no attributes
];
const catalog = encodeCatalog(ITEMS.map(([attributes], i) => ({ id: `i${i}`, attributes, available: true })));
const counts = ITEMS.map(([, c]) => c);

function historyOf(items: number[], times: number[]): UserHistory {
  return {
    items: Int32Array.from(items),
    counts: new Float32Array(items.length).fill(1),
    lastTime: Float64Array.from(times),
    events: items.length,
    spend: 0,
    lastEventTime: Math.max(...times),
  };
}

const ATTRIBUTES_ONLY: RetrievalConfig = {
  candidates: 0,
  knnCandidates: 0,
  followCandidates: 0,
  chainCandidates: 0,
  attributeCandidates: 5,
  recentWindow: 5,
  baskets: true,
  ownCandidates: 0,
};
const noIndex = undefined as unknown as HnswIndex; // never searched: no vector, no HNSW candidates
const noGraph = {
  numItems: ITEMS.length,
  k: 0,
  indptr: new Int32Array(ITEMS.length + 1),
  neighbours: new Int32Array(0),
  similarity: new Float32Array(0),
};

describe('attribute lists', () => {
  it("keeps each attribute's most bought items first, at most the given number, and rates rare attributes higher", () => {
    const lists = attributeLists(catalog, counts.slice(0, 6), 2);
    if (!lists) throw new Error('the catalogue has attributes');
    const tokenOf = (name: string): number => catalog.attrNames.indexOf(name);
    const listOf = (name: string): number[] =>
      Array.from(lists.items.subarray(lists.indptr[tokenOf(name)], lists.indptr[tokenOf(name) + 1]));
    expect(listOf('lipstick')).toEqual([2, 1]);
    expect(listOf('shampoo')).toEqual([3, 5]);
    // Items past the counts given (6 and 7 here) count as never bought.
    expect(listOf('red')).toEqual([1, 0]);
    expect(lists.idf[tokenOf('shampoo')]).toBeCloseTo(Math.log(8 / 2), 6);
    expect(lists.idf[tokenOf('red')]).toBeCloseTo(Math.log(8 / 4), 6);
    expect(attributeLists(encodeCatalog([{ id: 'x', attributes: [], available: true }]), [1], 10)).toBeUndefined();
    // A tag repeated for one item, and a category or brand, are one token each.
    const tagged = attributeLists(
      encodeCatalog([{ id: 'x', attributes: ['a', 'a'], category: 'c', brand: 'b', available: true }]),
      [1],
      10,
    );
    expect(Array.from(tagged?.itemTokens ?? [])).toEqual([0, 1, 2]);
    expect(Array.from(tagged?.indptr ?? [])).toEqual([0, 1, 2, 3]);
  });

  it("profiles a shopper by their items' rare attributes, the latest counting most", () => {
    const lists = attributeLists(catalog, counts, 10);
    if (!lists) throw new Error('the catalogue has attributes');
    const names = (h: UserHistory): string[] => profileTokens(lists, h).tokens.map((t) => catalog.attrNames[t]);
    // Shampoo is rarer (2 items of 8) than lipstick and red (4 each): it leads even from the earlier item.
    expect(names(historyOf([0, 5], [20, 10]))).toEqual(['shampoo', 'lipstick', 'red']);
    const p = profileTokens(lists, historyOf([0, 5], [20, 10]));
    expect(p.weights[0]).toBeCloseTo(0.9 * Math.log(4), 6);
    expect(p.weights[1]).toBeCloseTo(Math.log(2), 6);
  });
});

describe('retrieval from attributes', () => {
  it("offers the most bought items of the shopper's strongest attributes, by match times popularity", () => {
    const lists = attributeLists(catalog, counts, 10);
    const graphs = { knn: noGraph, follows: noGraph, attributes: lists };
    const exclude = new Uint8Array(ITEMS.length);
    exclude[0] = exclude[5] = 1;
    const h = historyOf([0, 5], [20, 10]);
    const got = retrieve(noIndex, graphs, undefined, h, exclude, ATTRIBUTES_ONLY);
    // 3: shampoo (0.9 ln 4) x ln 1002 = 8.62; 1: lipstick and red (2 ln 2) x ln 52 = 5.48; 2: lipstick
    // alone x ln 102 = 3.21; 6: red x ln 22 = 2.14; 4: both, never bought, x ln 2 = 0.96. 7 matches nothing.
    expect(Array.from(got.items)).toEqual([3, 1, 2, 6, 4]);
    expect(Array.from(got.source)).toEqual(Array(5).fill(SOURCE_ATTRIBUTES));
    // Within its budget, excluded items never offered, and none without the lists or a history.
    const two = retrieve(noIndex, graphs, undefined, h, exclude, { ...ATTRIBUTES_ONLY, attributeCandidates: 2 });
    expect(Array.from(two.items)).toEqual([3, 1]);
    exclude[3] = 1;
    expect(Array.from(retrieve(noIndex, graphs, undefined, h, exclude, ATTRIBUTES_ONLY).items)).toEqual([1, 2, 6, 4]);
    const bare = { knn: noGraph, follows: noGraph };
    expect(retrieve(noIndex, bare, undefined, h, exclude, ATTRIBUTES_ONLY).items.length).toBe(0);
    expect(retrieve(noIndex, graphs, undefined, historyOf([], []), exclude, ATTRIBUTES_ONLY).items.length).toBe(0);
  });
});

describe('attribute candidates against scoring every item', () => {
  it('finds the same best items, in the same order, though it stops early in each list', () => {
    const rng = new Rng(7);
    const n = 300;
    const shop = encodeCatalog(
      Array.from({ length: n }, (_, i) => ({
        id: `p${i}`,
        attributes: [...new Set(Array.from({ length: rng.int(4) }, () => `a${rng.int(12)}`))],
        category: rng.int(3) === 0 ? `c${rng.int(4)}` : undefined,
        available: true,
      })),
    );
    const sold = Array.from({ length: n }, () => (rng.int(4) === 0 ? 0 : rng.int(500)));
    const lists = attributeLists(shop, sold, n);
    if (!lists) throw new Error('the catalogue has attributes');
    for (let trial = 0; trial < 40; trial++) {
      const items = [...new Set(Array.from({ length: 1 + rng.int(15) }, () => rng.int(n)))];
      const h = historyOf(
        items,
        items.map(() => rng.int(5)),
      );
      const exclude = new Uint8Array(n);
      for (const i of items) exclude[i] = 1;
      const skip = new Set(Array.from({ length: rng.int(30) }, () => rng.int(n)));
      const { tokens, weights } = profileTokens(lists, h);
      const scored: [number, number][] = [];
      for (let i = 0; i < n; i++) {
        if (exclude[i] || skip.has(i)) continue;
        let match = 0;
        for (let p = lists.itemIndptr[i]; p < lists.itemIndptr[i + 1]; p++) {
          const at = tokens.indexOf(lists.itemTokens[p]);
          if (at >= 0) match += weights[at];
        }
        if (match > 0) scored.push([i, match * lists.weight[i]]);
      }
      scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      for (const max of [1, 5, 20, 400])
        expect(attributeCandidates(lists, h, exclude, max, skip)).toEqual(scored.slice(0, max).map(([i]) => i));
    }
  });
});

describe('explaining an attribute candidate', () => {
  it("names the attribute whose list it was found in, not the shopper's strongest one it has", () => {
    // Lists of 2: X's are x0 and x1, so T (X and Y) is only in Y's list, though X is the stronger.
    const rows: [string, string[], number][] = [
      ['x0', ['X'], 100],
      ['x1', ['X'], 90],
      ['T', ['X', 'Y'], 50],
      ['y0', ['Y'], 10],
      ['h1', ['X'], 1],
      ['h2', ['Y'], 1],
      ['h3', ['X'], 1],
      ['z', ['Z'], 1],
    ];
    const shop = encodeCatalog(rows.map(([id, attributes]) => ({ id, attributes, available: true })));
    const lists = attributeLists(
      shop,
      rows.map(([, , c]) => c),
      2,
    );
    if (!lists) throw new Error('the catalogue has attributes');
    const h = historyOf([4, 6, 5], [30, 20, 10]);
    expect(profileTokens(lists, h).tokens.map((t) => shop.attrNames[t])).toEqual(['X', 'Y']);
    // Only the catalogue and the lists are read.
    const model = { catalog: shop, graphs: { attributes: lists } } as unknown as RecModel;
    const named = new Explainer(model).attributeOf([2, 0, 7], h);
    expect(Object.fromEntries(named)).toEqual({ 2: 'Y', 0: 'X' });
  });
});
