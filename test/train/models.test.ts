import { describe, expect, it } from 'vitest';
import { DatasetBuilder } from '../../src/data/dataset.js';
import {
  buildUserItems,
  itemsOf,
  mostPopularItems,
  restrictToItems,
  type UserItems,
} from '../../src/data/interactions.js';
import { eventTypeCode } from '../../src/data/types.js';
import { classificationMetrics } from '../../src/metrics/classification.js';
import { encodeCatalog } from '../../src/data/catalog.js';
import { historyOf, userTotals } from '../../src/data/history.js';
import { rawRfm } from '../../src/model/profile.js';
import { foldInUser, type AlsModel } from '../../src/model/als.js';
import { trainAls } from '../../src/train/als.js';
import { trainBpr } from '../../src/train/bpr.js';
import { easeScores } from '../../src/model/ease.js';
import { trainEase } from '../../src/train/ease.js';
import { EASE_LAMBDA_GRID, tuneAndFitEaseWith } from '../../src/train/ease-tuning.js';
import { knnSimilarity } from '../../src/model/knn.js';
import { trainItemKnn } from '../../src/train/itemknn.js';
import { kmeans, silhouette } from '../../src/train/kmeans.js';
import { ortInverse } from '../../src/train/ort-inverse.js';
import { trainPopularity } from '../../src/train/popularity.js';
import { mineRules } from '../../src/train/rules.js';
import { segmentLabels, trainSegments } from '../../src/train/segments.js';
import { invertSpdInPlace } from '../../src/util/linalg.js';
import { Rng } from '../../src/util/rng.js';

function interactions(rows: [string, string][], type = 'view') {
  const b = new DatasetBuilder();
  rows.forEach(([u, i], t) => b.addEvent(u, i, eventTypeCode(type), t));
  const ds = b.build({ format: 'test', path: '-', files: [] });
  const all = Int32Array.from({ length: ds.numEvents }, (_, e) => e);
  return { ds, ui: buildUserItems(ds.events, all, ds.numUsers, ds.numItems), all };
}

function randomShop(users: number, items: number, perUser: number, seed: number): [string, string][] {
  const rng = new Rng(seed);
  const rows: [string, string][] = [];
  for (let u = 0; u < users; u++)
    for (let j = 0; j < perUser; j++) rows.push([`u${u}`, `i${(u % 5) * 7 + rng.int(items)}`]);
  return rows;
}

type Trainer = (ui: UserItems, factors: number, seed: number) => AlsModel;
const trainers: [string, Trainer][] = [
  [
    'ALS',
    (ui, factors, seed) => trainAls(ui, { factors, regularization: 0.5, alpha: 5, iterations: 8, cgSteps: 3, seed }),
  ],
  [
    'BPR',
    (ui, factors, seed) =>
      trainBpr(ui, { factors, learningRate: 0.05, l2: 0.002, epochs: 150, alpha: 5, regularization: 0.5, seed }),
  ],
];

describe.each(trainers)('%s embeddings', (_, train) => {
  it('stores for every user exactly the vector online fold-in computes from the history', () => {
    const { ui } = interactions(randomShop(40, 30, 6, 1));
    const model = train(ui, 8, 1);
    for (let u = 0; u < ui.numUsers; u++) {
      const s = ui.indptr[u];
      const e = ui.indptr[u + 1];
      const v = foldInUser(model, ui.items.subarray(s, e), ui.count.subarray(s, e));
      for (let f = 0; f < 8; f++) expect(model.userFactors[u * 8 + f]).toBeCloseTo(v[f], 5);
    }
  });

  it("ranks a user's co-consumed items above unrelated ones", () => {
    // Two disjoint groups of items consumed by two groups of users.
    const rows: [string, string][] = [];
    for (let u = 0; u < 20; u++)
      for (let i = 0; i < 5; i++) if ((u + i) % 5 !== 0) rows.push([`u${u}`, `${u < 10 ? 'a' : 'b'}${i}`]);
    const { ui, ds } = interactions(rows);
    const m = train(ui, 4, 2);
    const score = (u: string, i: string): number => {
      const uu = ds.users.indexOf(u);
      const ii = ds.items.indexOf(i);
      let s = 0;
      for (let f = 0; f < 4; f++) s += m.userFactors[uu * 4 + f] * m.itemFactors[ii * 4 + f];
      return s;
    };
    // u0 skipped a0 ((0+0)%5 === 0), u10 skipped b0.
    expect(score('u0', 'a0')).toBeGreaterThan(score('u0', 'b0'));
    expect(score('u10', 'b0')).toBeGreaterThan(score('u10', 'a0'));
  });
});

describe('linear algebra for EASE', () => {
  const spd = (n: number, seed: number): Float64Array => {
    const rng = new Rng(seed);
    const X = Array.from({ length: n * 3 }, () => Array.from({ length: n }, () => (rng.next() < 0.3 ? 1 : 0)));
    const A = new Float64Array(n * n);
    for (const row of X) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] += row[i] * row[j];
    for (let i = 0; i < n; i++) A[i * n + i] += 5;
    return A;
  };

  it('inverts an SPD matrix in JS and with onnxruntime, agreeing with each other', async () => {
    const n = 40;
    const A = spd(n, 3);
    const inv = invertSpdInPlace(Float64Array.from(A), n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += A[i * n + k] * inv[k * n + j];
        expect(s).toBeCloseTo(i === j ? 1 : 0, 9);
      }
    }
    const ort = await ortInverse(A, n);
    let maxDiff = 0;
    for (let k = 0; k < n * n; k++) maxDiff = Math.max(maxDiff, Math.abs(ort[k] - inv[k]));
    expect(maxDiff).toBeLessThan(1e-5);
    expect(() => invertSpdInPlace(new Float64Array([1, 2, 2, 1]), 2)).toThrow(/not positive definite/);
  });

  it('gives EASE a zero diagonal and no self-recommendation', async () => {
    const { ui } = interactions(randomShop(30, 12, 5, 4));
    const ease = await trainEase(ui, 10);
    for (let i = 0; i < ui.numItems; i++) expect(ease.B[i * ui.numItems + i]).toBe(0);
    const out = easeScores(ease, itemsOf(ui, 0), new Float32Array(ui.numItems));
    expect(out.every(Number.isFinite)).toBe(true);
  });

  it("tunes EASE's λ on the most popular items of a catalogue too large for the grid, and fits the whole one", async () => {
    const { ui } = interactions(randomShop(120, 60, 8, 5));
    const keep = mostPopularItems(ui, 10);
    const users = (i: number) => ui.items.filter((x) => x === i).length;
    for (let j = 1; j < keep.length; j++) expect(users(keep[j])).toBeLessThanOrEqual(users(keep[j - 1]));
    const small = restrictToItems(ui, keep);
    expect(small.numItems).toBe(10);
    // Every kept interaction, renumbered; no other.
    expect(small.items.length).toBe([...ui.items].filter((i) => keep.includes(i)).length);
    expect(itemsOf(small, 3).map((j) => keep[j])).toEqual(itemsOf(ui, 3).filter((i) => keep.includes(i)));
    const split = { train: ui, fit: ui, validation: ui };
    const subset = await tuneAndFitEaseWith('auto', split, 10);
    expect(subset.chosenBy).toMatch(/on the 10 most popular of \d+ items/);
    expect(EASE_LAMBDA_GRID).toContain(subset.model.lambda);
    expect(Object.keys(subset.validation!)).toHaveLength(EASE_LAMBDA_GRID.length);
    expect(subset.model.numItems).toBe(ui.numItems);
    const whole = await tuneAndFitEaseWith('auto', split, 1000);
    expect(whole.chosenBy).not.toMatch(/most popular/);
  });
});

describe('item-kNN', () => {
  it('computes cosine similarity over user sets', () => {
    // a: {u1,u2,u3}; b: {u1,u2}; c: {u3}
    const { ui, ds } = interactions([
      ['u1', 'a'],
      ['u1', 'b'],
      ['u2', 'a'],
      ['u2', 'b'],
      ['u3', 'a'],
      ['u3', 'c'],
    ]);
    const knn = trainItemKnn(ui, 10);
    const [a, b, c] = ['a', 'b', 'c'].map((x) => ds.items.indexOf(x));
    expect(knnSimilarity(knn, a, b)).toBeCloseTo(2 / Math.sqrt(6), 6);
    expect(knnSimilarity(knn, a, c)).toBeCloseTo(1 / Math.sqrt(3), 6);
    expect(knnSimilarity(knn, b, c)).toBe(0);
    // Neighbours are ordered by similarity.
    expect(Array.from(knn.neighbours.subarray(knn.indptr[a], knn.indptr[a + 1]))).toEqual([b, c]);
  });
});

describe('association rules', () => {
  it('computes support, confidence and lift over baskets', () => {
    // Five baskets (one user-day each): {x,y} x3, {x,z}, {y}.
    const b = new DatasetBuilder();
    const day = 86400;
    const baskets = [['x', 'y'], ['x', 'y'], ['x', 'y'], ['x', 'z'], ['y']];
    baskets.forEach((items, d) => items.forEach((i) => b.addEvent('u', i, eventTypeCode('purchase'), d * day + 1)));
    const ds = b.build({ format: 'test', path: '-', files: [] });
    const all = Int32Array.from({ length: ds.numEvents }, (_, e) => e);
    const rules = mineRules(ds.events, all, ds.numItems, {
      minPairCount: 2,
      minConfidence: 0.1,
      minLift: 0,
      maxPerItem: 10,
      maxTransactionItems: 50,
    });
    expect(rules.transactions).toBe(5);
    const [x, y] = ['x', 'y'].map((i) => ds.items.indexOf(i));
    const p = Array.from(rules.consequent.subarray(rules.indptr[x], rules.indptr[x + 1])).indexOf(y) + rules.indptr[x];
    expect(rules.support[p]).toBeCloseTo(3 / 5, 6);
    expect(rules.confidence[p]).toBeCloseTo(3 / 4, 6);
    expect(rules.lift[p]).toBeCloseTo(3 / 4 / (4 / 5), 6);
    // {x,z} occurs once: below minPairCount.
    expect(rules.indptr[ds.items.indexOf('z') + 1] - rules.indptr[ds.items.indexOf('z')]).toBe(0);
  });
});

describe('k-means and silhouette', () => {
  it('finds three separated blobs and prefers k=3 by silhouette', () => {
    const rng = new Rng(5);
    const centres = [
      [0, 0],
      [10, 0],
      [0, 10],
    ];
    const n = 150;
    const X = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) {
      const c = centres[i % 3];
      X[i * 2] = c[0] + rng.normal() * 0.5;
      X[i * 2 + 1] = c[1] + rng.normal() * 0.5;
    }
    const sample = Int32Array.from({ length: n }, (_, i) => i);
    const scores = [2, 3, 4, 5].map((k) => silhouette(X, 2, kmeans(X, n, 2, k, 1).assignment, k, sample));
    expect(scores.indexOf(Math.max(...scores))).toBe(1);
    const three = kmeans(X, n, 2, 3, 1);
    for (let i = 3; i < n; i++) expect(three.assignment[i]).toBe(three.assignment[i % 3]);
  });
});

describe('classification metrics', () => {
  it('computes AUC with ties, log-loss and thresholded counts', () => {
    const m = classificationMetrics([0.9, 0.8, 0.8, 0.3, 0.1], [1, 1, 0, 0, 0]);
    // Positive-negative pairs: (0.9 beats all 3), (0.8 beats 2, ties 1) -> (3 + 2.5) / 6.
    expect(m.auc).toBeCloseTo(5.5 / 6, 10);
    expect(m.precision).toBeCloseTo(2 / 3, 10);
    expect(m.recall).toBe(1);
    expect(m.accuracy).toBeCloseTo(4 / 5, 10);
    expect(m.f1).toBeCloseTo(0.8, 10);
    const ll = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.2) + Math.log(0.7) + Math.log(0.9)) / 5;
    expect(m.logLoss).toBeCloseTo(ll, 10);
    // Nothing predicted positive: precision (and so F1) is undefined, not 0.
    const none = classificationMetrics([0.1, 0.2, 0.3], [1, 0, 0]);
    expect([none.precision, none.recall, none.f1, none.accuracy]).toEqual([NaN, 0, NaN, 2 / 3]);
  });
});

describe('trending and segments', () => {
  it('decays trending by the half-life, counting from the last event', () => {
    const b = new DatasetBuilder();
    const day = 86400;
    const ref = 100 * day;
    b.addEvent('u1', 'now', eventTypeCode('view'), ref);
    b.addEvent('u1', 'fortnight', eventTypeCode('view'), ref - 14 * day);
    b.addEvent('u2', 'fortnight', eventTypeCode('view'), ref - 14 * day);
    b.addEvent('u2', 'month', eventTypeCode('view'), ref - 28 * day);
    const ds = b.build({ format: 'test', path: '-', files: [] });
    const pop = trainPopularity(
      ds.events,
      Int32Array.from({ length: ds.numEvents }, (_, e) => e),
      ds.numItems,
      14,
    );
    const at = (id: string): number => ds.items.indexOf(id);
    expect(pop.referenceTime).toBe(ref);
    expect(Array.from([at('now'), at('fortnight'), at('month')], (i) => pop.count[i])).toEqual([1, 2, 1]);
    expect(pop.trending[at('now')]).toBeCloseTo(1, 6);
    expect(pop.trending[at('fortnight')]).toBeCloseTo(2 * 0.5, 6);
    expect(pop.trending[at('month')]).toBeCloseTo(0.25, 6);
  });

  it('measures how often shoppers come back to an item and after how long; one order is one visit', () => {
    const b = new DatasetBuilder();
    const day = 86400;
    const buy = eventTypeCode('purchase');
    // Soap: u1 buys it on days 0, 10 and 30 (mean gap 15 days), u2 on days 0 and 5, u3 once.
    for (const d of [0, 10, 30]) b.addEvent('u1', 'soap', buy, d * day);
    for (const d of [0, 5]) b.addEvent('u2', 'soap', buy, d * day);
    b.addEvent('u3', 'soap', buy, 0);
    // A film: two lines of one order (the same timestamp) are not a return.
    b.addEvent('u1', 'film', buy, 3 * day);
    b.addEvent('u1', 'film', buy, 3 * day);
    b.addEvent('u2', 'film', buy, 4 * day);
    const ds = b.build({ format: 'test', path: '-', files: [] });
    const all = Int32Array.from({ length: ds.numEvents }, (_, e) => e);
    const pop = trainPopularity(ds.events, Int32Array.from(all).reverse(), ds.numItems, 14);
    const soap = ds.items.indexOf('soap');
    const film = ds.items.indexOf('film');
    expect(pop.repeatShare[soap]).toBeCloseTo(2 / 3, 6);
    expect(pop.repeatDays[soap]).toBeCloseTo((15 + 5) / 2, 5);
    expect(pop.repeatShare[film]).toBe(0);
    expect(pop.repeatDays[film]).toBeNaN();
  });

  it('segments shoppers by recency, frequency, spend and category, and says so in the labels', () => {
    const b = new DatasetBuilder();
    const day = 86400;
    const now = 200 * day;
    for (const [id, category] of [
      ['s1', 'Shoes'],
      ['s2', 'Shoes'],
      ['b1', 'Bags'],
      ['b2', 'Bags'],
    ])
      b.addItem({ id, category, attributes: [], available: true });
    // Regulars: recent, frequent, big spenders on shoes. Drifters: one bag view two months ago.
    for (let u = 0; u < 30; u++)
      for (let j = 0; j < 12; j++)
        b.addEvent(`reg${u}`, j % 2 ? 's1' : 's2', eventTypeCode('purchase'), now - j * day, NaN, 1, 80);
    for (let u = 0; u < 30; u++)
      b.addEvent(`drift${u}`, u % 2 ? 'b1' : 'b2', eventTypeCode('view'), now - (60 + (u % 5)) * day);
    const ds = b.build({ format: 'test', path: '-', files: [] });
    const all = Int32Array.from({ length: ds.numEvents }, (_, e) => e);
    const ui = buildUserItems(ds.events, all, ds.numUsers, ds.numItems);
    const totals = userTotals(ds.events, all, ds.numUsers);
    const histories = Array.from({ length: ds.numUsers }, (_, u) => historyOf(ui, totals, u));
    const reg = ds.users.indexOf('reg0');
    // reg0 last bought just now: 12 purchases of 80.
    expect(rawRfm(histories[reg], now)).toEqual([0, Math.log1p(12), Math.log1p(12 * 80)]);
    const seg = trainSegments(histories, encodeCatalog(ds.itemInfo), now, {
      kMin: 2,
      kMax: 4,
      affinityDims: 4,
      sample: 100,
      seed: 1,
    });
    const of = (prefix: string): Set<number> =>
      new Set(ds.users.list().flatMap((id, u) => (id.startsWith(prefix) ? [seg.assignment[u]] : [])));
    // Each group is one segment, and the two are different ones.
    expect([of('reg').size, of('drift').size]).toEqual([1, 1]);
    const [regular] = of('reg');
    const [drifter] = of('drift');
    expect(regular).not.toBe(drifter);
    expect(seg.k).toBe(2);
    expect(seg.labels[regular]).toBe(
      'recent, frequent, high-spend shoppers, leaning to Shoes (100% of their items vs 50% overall) (recency 0d, 12 events, spend 960)',
    );
    expect(seg.labels[drifter]).toMatch(
      /^lapsed, occasional, low-spend shoppers, leaning to Bags \(100% of their items vs 50% overall\) \(recency 6\dd, 1 events, spend 0\)$/,
    );
  });

  it('labels segments that favour one category by what sets each apart (the demo shop had two "favours Skincare")', () => {
    // The two centroids the demo shop (synthetic medium, seed 42) was cut into: standardised RFM, then
    // twice the shares of Skincare, Makeup, Haircare, Fragrance and the rest.
    const spec = {
      affinityKind: 'category' as const,
      affinityIds: [0, 1, 2, 3],
      affinityNames: ['Skincare', 'Makeup', 'Haircare', 'Fragrance'],
      rfmMean: [2.8, 3.4, 3.5],
      rfmStd: [0.3, 0.9, 2.3],
      affinityWeight: 2,
    };
    const centroids = [
      [0.05, -0.63, -0.94, 0.4, 0.26, 0.15, 0.17],
      [-0.05, 0.59, 0.88, 0.3, 0.29, 0.28, 0.2],
    ];
    const [a, b] = segmentLabels(centroids, [1400, 1496], spec);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^occasional, low-spend shoppers, leaning to Skincare \(20% of their items vs 17% overall\)/);
    expect(b).toMatch(/^frequent, high-spend shoppers, leaning to Haircare \(14% of their items vs 11% overall\)/);
    // Labels that would still be equal are numbered.
    expect(segmentLabels([centroids[0], centroids[0]], [1, 1], spec)).toEqual([
      expect.stringMatching(/\(segment 0\)$/),
      expect.stringMatching(/\(segment 1\)$/),
    ]);
  });
});
