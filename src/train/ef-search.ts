import type { AlsModel } from '../model/als.js';
import { type HnswIndex, hnswRecall } from '../index/hnsw.js';
import { note } from '../util/progress.js';
import { Rng } from '../util/rng.js';

/** Sample user vectors (non-zero) as HNSW queries. */
function recallQueries(als: AlsModel, seed: number): { queries: Float32Array; count: number } {
  const rng = new Rng(seed + 5);
  const d = als.factors;
  const candidates: number[] = [];
  for (let u = 0; u < als.numUsers; u++) {
    let nz = false;
    for (let f = 0; f < d && !nz; f++) nz = als.userFactors[u * d + f] !== 0;
    if (nz) candidates.push(u);
  }
  const picked = rng.shuffle(candidates).slice(0, 300);
  const queries = new Float32Array(picked.length * d);
  picked.forEach((u, q) => queries.set(als.userFactors.subarray(u * d, (u + 1) * d), q * d));
  return { queries, count: picked.length };
}

export interface EfSweepPoint {
  efSearch: number;
  recallAt200: number;
  queriesPerSecond: number;
}

/**
 * The smallest efSearch (at least the candidate count) whose recall@200 against exact search reaches
 * the target, from a sweep over user-vector queries. Should recall level off below the target (items
 * the graphs cannot reach), the sweep stops at the plateau instead of paying for efSearch that buys
 * nothing; the build notes the shortfall and the manifest keeps the sweep either way.
 */
export function chooseEfSearch(
  index: HnswIndex,
  als: AlsModel,
  seed: number,
  minEf: number,
  target: number,
): { efSearch: number; recall: number; sweep: EfSweepPoint[] } {
  const { queries, count } = recallQueries(als, seed);
  const k = Math.min(200, als.numItems);
  const sweep: EfSweepPoint[] = [];
  for (const ef of [...new Set([minEf, 200, 300, 400, 600, 800, 1200, 1600].filter((e) => e >= minEf))].sort(
    (a, b) => a - b,
  )) {
    index.setEf(ef);
    const t0 = performance.now();
    const recall = hnswRecall(index, als.itemFactors, als.numItems, als.factors, queries, count, k);
    const seconds = (performance.now() - t0) / 1000;
    sweep.push({ efSearch: ef, recallAt200: Number(recall.toFixed(4)), queriesPerSecond: Math.round(count / seconds) });
    if (recall >= target) break;
    const prev = sweep[sweep.length - 2];
    if (prev && recall - prev.recallAt200 < 0.01) break;
  }
  const reached = sweep.find((p) => p.recallAt200 >= target);
  // On a plateau, the point before the last step (which gained under 0.01) is the one worth paying for.
  const chosen = reached ?? sweep[Math.max(0, sweep.length - 2)];
  if (!reached)
    note(
      `warning: HNSW recall@200 levels off at ${chosen.recallAt200}, below the target ${target}; retrieval will miss some of the exact top 200 (a larger --hnsw-m raises the ceiling)`,
    );
  index.setEf(chosen.efSearch);
  return { efSearch: chosen.efSearch, recall: chosen.recallAt200, sweep };
}
