import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildUserItems } from '../../src/data/interactions.js';
import { loadDataset } from '../../src/data/loaders/index.js';
import { temporalSplit } from '../../src/data/split.js';
import { configFor } from '../../src/data/synthetic/config.js';
import { generateShop } from '../../src/data/synthetic/write.js';
import type { Dataset } from '../../src/data/dataset.js';
import { evaluateRanking } from '../../src/metrics/ranking.js';
import { topK } from '../../src/util/topk.js';
import { tempDir } from '../helpers/paths.js';

const root = tempDir();
const filesOf = (dir: string): Record<string, Buffer> =>
  Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((f) => [f, readFileSync(join(dir, f))]),
  );

describe('synthetic shop generator', () => {
  let small: Dataset;
  let smallDir: string;

  beforeAll(async () => {
    smallDir = join(root, 'small');
    await generateShop(configFor('small', { seed: 7 }), smallDir);
    small = await loadDataset(smallDir);
  });

  it('gives byte-identical files for the same seed and different ones for another seed', async () => {
    await generateShop(configFor('tiny', { seed: 3 }), join(root, 'a'));
    await generateShop(configFor('tiny', { seed: 3 }), join(root, 'b'));
    await generateShop(configFor('tiny', { seed: 4 }), join(root, 'c'));
    const a = filesOf(join(root, 'a'));
    const b = filesOf(join(root, 'b'));
    const c = filesOf(join(root, 'c'));
    expect(Object.keys(a)).toEqual([
      'discounts.csv',
      'events.csv',
      'items.csv',
      'meta.json',
      'promotions.csv',
      'truth.jsonl',
      'users.csv',
    ]);
    for (const f of Object.keys(a)) expect(a[f].equals(b[f]), f).toBe(true);
    expect(a['events.csv'].equals(c['events.csv'])).toBe(false);
    expect(a['items.csv'].equals(c['items.csv'])).toBe(false);
    // tiny is meant for unit tests: a few hundred events.
    const tinyEvents = a['events.csv'].toString().trim().split('\n').length - 1;
    expect(tinyEvents).toBeGreaterThan(150);
    expect(tinyEvents).toBeLessThan(2000);
  });

  it('has long-tailed popularity', () => {
    const counts = new Float64Array(small.numItems);
    for (let e = 0; e < small.numEvents; e++) counts[small.events.item[e]]++;
    const sorted = Array.from(counts).sort((x, y) => y - x);
    const total = sorted.reduce((s, x) => s + x, 0);
    const top10pct = sorted.slice(0, Math.ceil(sorted.length / 10)).reduce((s, x) => s + x, 0);
    // Measured 0.58 for seed 7; a uniform catalogue would give 0.10.
    expect(top10pct / total).toBeGreaterThan(0.35);
    // And a long tail: the median item gets well under the mean.
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(total / sorted.length / 2);
  });

  it('precedes every purchase by a view of the same item in the same session', () => {
    const viewed = new Set<string>();
    let purchases = 0;
    const ev = small.events;
    for (let e = 0; e < small.numEvents; e++) {
      const session = ev.context[e]?.session;
      expect(session).toBeDefined();
      const key = `${session}|${ev.item[e]}`;
      if (ev.type[e] === 0) viewed.add(key);
      else if (ev.type[e] === 3) {
        purchases++;
        expect(viewed.has(key), `purchase at event ${e} without a prior view`).toBe(true);
      }
    }
    expect(purchases).toBeGreaterThan(500);
  });

  it('exports ground truth on which an oracle beats popularity by far', () => {
    const truth = readFileSync(join(smallDir, 'truth.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { user_id: string; items: string[] });
    expect(truth).toHaveLength(small.numUsers);
    expect(truth[0].items).toHaveLength(50);

    const split = temporalSplit(small.events);
    const train = buildUserItems(small.events, split.train, small.numUsers, small.numItems);
    const test = buildUserItems(small.events, split.test, small.numUsers, small.numItems);
    const pop = new Float64Array(small.numItems);
    for (const e of split.train) pop[small.events.item[e]]++;
    const popularity = evaluateRanking((_u, k, ex) => topK(pop, k, ex), train, test);

    const rank = new Map(truth.map((t) => [t.user_id, t.items.map((id) => small.items.indexOf(id))]));
    const scores = new Float64Array(small.numItems);
    const oracle = evaluateRanking(
      (u, k, ex) => {
        scores.fill(-1);
        rank.get(small.users.idAt(u))!.forEach((i, r) => (scores[i] = 1000 - r));
        return topK(scores, k, ex);
      },
      train,
      test,
    );
    // Measured on seed 7: oracle NDCG@10 0.186 vs popularity 0.070 (2.7x).
    expect(oracle['ndcg@10']).toBeGreaterThan(1.8 * popularity['ndcg@10']);
    expect(oracle['recall@10']).toBeGreaterThan(1.8 * popularity['recall@10']);
  });
});
