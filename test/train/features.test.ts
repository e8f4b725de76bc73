import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/loaders/index.js';
import type { Dataset } from '../../src/data/dataset.js';
import { buildUserItems } from '../../src/data/interactions.js';
import { configFor } from '../../src/data/synthetic/config.js';
import { generateShop } from '../../src/data/synthetic/write.js';
import { encodeCatalog } from '../../src/data/catalog.js';
import { FeatureBuilder } from '../../src/features/features.js';
import { makeFeatureSpec } from '../../src/features/spec.js';
import { historyOf, recentBaskets, userTotals } from '../../src/data/history.js';
import { trainItemKnn } from '../../src/train/itemknn.js';
import { knnSimilarity } from '../../src/model/knn.js';
import { DEFAULT_FOLLOWS, trainFollows } from '../../src/train/follows.js';
import { trainPopularity } from '../../src/train/popularity.js';
import { mineRules } from '../../src/train/rules.js';
import { Rng } from '../../src/util/rng.js';
import { tempDir } from '../helpers/paths.js';

/**
 * A candidate's feature row must depend on the user and the candidate only (plus its position in
 * the list): the builder's scratch tables are shared across candidates and requests, and online,
 * batch and training rows must agree whatever else is scored beside them.
 */
describe('feature rows', () => {
  const D = 8;
  let ds: Dataset;
  let builder: FeatureBuilder;
  let history: (u: number) => ReturnType<typeof historyOf>;
  let factors: Float32Array;

  beforeAll(async () => {
    // More items than the accumulator's initial capacity holds, so registering them grows it.
    const dir = join(tempDir(), 'shop');
    await generateShop(configFor('tiny', { seed: 5, items: 2500, users: 300, weeks: 4 }), dir);
    ds = await loadDataset(dir);
    const all = Int32Array.from({ length: ds.numEvents }, (_, e) => e);
    const ui = buildUserItems(ds.events, all, ds.numUsers, ds.numItems);
    const rng = new Rng(1);
    factors = Float32Array.from({ length: ds.numItems * D }, () => rng.normal());
    const spec = makeFeatureSpec(ds.userInfo);
    builder = new FeatureBuilder(
      {
        catalog: encodeCatalog(ds.itemInfo),
        factors: D,
        itemFactors: factors,
        knn: trainItemKnn(ui, 50),
        follows: trainFollows(ds.events, all, ds.numItems, DEFAULT_FOLLOWS),
        popularity: trainPopularity(ds.events, all, ds.numItems, 14),
        rules: mineRules(ds.events, all, ds.numItems),
      },
      spec,
    );
    const totals = userTotals(ds.events, all, ds.numUsers);
    history = (u) => historyOf(ui, totals, u);
  }, 120_000);

  it('gives each candidate the same row alone as among thousands of others, duplicates included', () => {
    const w = builder.width;
    const rng = new Rng(2);
    // Every item once, plus repeats, in random order.
    const candidates = rng.shuffle([
      ...Array.from({ length: ds.numItems }, (_, i) => i),
      ...Array.from({ length: 300 }, () => rng.int(ds.numItems)),
    ]);
    let checked = 0;
    const [rankColumn, ...evidence] = ['retrieval_rank', 'knn_sum', 'rule_conf'].map((name) =>
      builder.spec.names.indexOf(name),
    );
    expect([rankColumn, ...evidence]).not.toContain(-1);
    for (const u of [0, 7, 42, 123]) {
      const h = history(u);
      expect(h.items.length).toBeGreaterThan(0);
      const user = { history: h, vector: factors.subarray(0, D), now: 1e9 };
      const rows = builder.build(user, candidates, new Float32Array(candidates.length * w));
      const one = new Float32Array(w);
      const sample = new Set(Array.from({ length: 250 }, () => rng.int(candidates.length)));
      let nonzeroEvidence = 0;
      for (const r of sample) {
        builder.build(user, [candidates[r]], one);
        for (let c = 0; c < w; c++) {
          if (c === rankColumn) continue; // the position in the list
          expect(rows[r * w + c], `user ${u}, candidate ${candidates[r]}, feature ${builder.spec.names[c]}`).toBe(
            one[c],
          );
        }
        if (evidence.some((c) => one[c] !== 0)) nonzeroEvidence++;
        checked++;
      }
      // The comparison must cover rows with item-kNN or rule evidence, not only zeros.
      expect(nonzeroEvidence).toBeGreaterThan(0);
    }
    expect(checked).toBeGreaterThan(500);
  });

  it("treats the last basket's items alike: which of them came first in the history changes no column", () => {
    const w = builder.width;
    const h = history(42);
    expect(h.items.length).toBeGreaterThan(3);
    // The three most recent items become one basket (one timestamp), in two different orders.
    const recent = Array.from(h.lastTime.keys())
      .sort((a, b) => h.lastTime[b] - h.lastTime[a])
      .slice(0, 3);
    const basketTime = h.lastTime[recent[0]];
    const variant = (order: number[]): ReturnType<typeof historyOf> => {
      const items = Int32Array.from(h.items);
      const lastTime = Float64Array.from(h.lastTime);
      recent.forEach((pos, j) => {
        items[pos] = h.items[recent[order[j]]];
        lastTime[pos] = basketTime;
      });
      return { ...h, items, lastTime };
    };
    const candidates = Array.from({ length: 400 }, (_, i) => (i * 7) % ds.numItems);
    const user = (hh: ReturnType<typeof historyOf>) => ({ history: hh, vector: factors.subarray(0, D), now: 1e9 });
    const a = builder.build(user(variant([0, 1, 2])), candidates, new Float32Array(candidates.length * w));
    const b = builder.build(user(variant([2, 0, 1])), candidates, new Float32Array(candidates.length * w));
    const col = (name: string): number => builder.spec.names.indexOf(name);
    for (let r = 0; r < candidates.length; r++)
      for (const name of ['knn_recent', 'knn_last', 'emb_cos_last'])
        expect(b[r * w + col(name)], `${name} of candidate ${candidates[r]}`).toBeCloseTo(a[r * w + col(name)], 5);
    expect(candidates.some((_, r) => a[r * w + col('knn_last')] > 0)).toBe(true);
    // train --baskets off: the history's order decides which item is last, so the orders differ.
    const ordered = new FeatureBuilder(builder.model, { ...builder.spec, baskets: false });
    const c = ordered.build(user(variant([0, 1, 2])), candidates, new Float32Array(candidates.length * w));
    const d = ordered.build(user(variant([2, 0, 1])), candidates, new Float32Array(candidates.length * w));
    expect(candidates.some((_, r) => c[r * w + col('knn_last')] !== d[r * w + col('knn_last')])).toBe(true);
  });

  it('scores what shoppers went on to after the latest baskets (follow_recent, follow_last)', () => {
    const w = builder.width;
    const col = (name: string): number => builder.spec.names.indexOf(name);
    const follows = builder.model.follows;
    let nonzero = 0;
    for (const u of [3, 11, 42]) {
      const h = history(u);
      const recent = recentBaskets(h, builder.spec.recentWindow, builder.spec.baskets);
      const candidates = Array.from({ length: ds.numItems }, (_, i) => i);
      const rows = builder.build(
        { history: h, vector: factors.subarray(0, D), now: 1e9 },
        candidates,
        new Float32Array(candidates.length * w),
      );
      for (const j of candidates) {
        let sum = 0;
        let last = 0;
        recent.items.forEach((i, r) => {
          const s = knnSimilarity(follows, i, j);
          sum += Math.pow(0.7, recent.basket[r]) * s;
          if (recent.basket[r] === 0) last = Math.max(last, s);
        });
        expect(rows[j * w + col('follow_recent')], `follow_recent of ${j} for user ${u}`).toBeCloseTo(sum, 5);
        expect(rows[j * w + col('follow_last')], `follow_last of ${j} for user ${u}`).toBeCloseTo(last, 5);
        if (sum > 0) nonzero++;
      }
    }
    // Not a vacuous comparison: 576 (shopper, item) pairs have followers here.
    expect(nonzero).toBeGreaterThan(10);
  });

  it("describes a shopper's own item by how often and how long ago, and leaves others at zero", () => {
    const w = builder.width;
    const h = history(7);
    const day = 86400;
    const now = Math.max(...h.lastTime) + 3 * day;
    const own = h.items[0];
    const other = Array.from({ length: ds.numItems }, (_, i) => i).find((i) => !h.items.includes(i))!;
    const rows = builder.build(
      { history: h, vector: factors.subarray(0, D), now },
      [own, other],
      new Float32Array(2 * w),
    );
    const col = (name: string): number => builder.spec.names.indexOf(name);
    expect(rows[col('own_count')]).toBeCloseTo(Math.log1p(h.counts[0]), 6);
    expect(rows[col('own_days')]).toBeCloseTo(Math.log1p((now - h.lastTime[0]) / day), 5);
    expect(rows[w + col('own_count')]).toBe(0);
    expect(rows[w + col('own_days')]).toBe(0);
  });
});
