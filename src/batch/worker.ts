import { workerData } from 'piscina';
import type { BundleData } from '../bundle/model.js';
import { encodeCatalog } from '../features/catalog.js';
import { FeatureBuilder } from '../features/features.js';
import { historyOf } from '../features/history.js';
import { OnnxRanker } from '../rank/onnx-ranker.js';
import { createKernel } from './choose-kernel.js';
import type { KernelName, ScoreKernel } from './kernels.js';
import { formatBlock, type OutputFormat, type UserResult } from './output.js';

/** What every batch worker receives: the bundle (shared arrays) and the job's settings. */
export interface BatchWorkerInit {
  bundle: BundleData;
  kernel: KernelName;
  k: number;
  format: OutputFormat;
  propensity: boolean;
  segments: boolean;
  excludeSeen: boolean;
}

export interface BatchTask {
  /** Bundle user indices, -1 for ids the bundle does not know. */
  users: Int32Array;
  ids: string[];
}

export interface BatchReply {
  text: string;
  coldStart: number;
  kernelMs: number;
}

const init = workerData as BatchWorkerInit;
const b = init.bundle;
const d = b.als.factors;
const numItems = b.items.length;
const kernel: ScoreKernel = await createKernel(init.kernel, b.als.itemFactors, numItems, d);
const ranker = init.propensity ? await OnnxRanker.create(b.rankerOnnx, b.featureSpec.names.length) : undefined;
const features = init.propensity ? new FeatureBuilder({ catalog: encodeCatalog(b.items), factors: d, itemFactors: b.als.itemFactors, knn: b.knn, popularity: b.popularity, rules: b.rules }, b.featureSpec) : undefined;
const trend = b.popularity.trending;
const trending = Int32Array.from({ length: numItems }, (_, i) => i).sort((x, y) => trend[y] - trend[x] || x - y);

export default async function scoreBlock(task: BatchTask): Promise<BatchReply> {
  const { users, ids } = task;
  const known: number[] = [];
  users.forEach((u, r) => {
    if (u >= 0 && b.history.ui.indptr[u + 1] > b.history.ui.indptr[u]) known.push(r);
  });
  const U = new Float32Array(known.length * d);
  const exclude: (Int32Array | undefined)[] = [];
  known.forEach((r, j) => {
    const u = users[r];
    U.set(b.als.userFactors.subarray(u * d, (u + 1) * d), j * d);
    exclude.push(init.excludeSeen ? b.history.ui.items.subarray(b.history.ui.indptr[u], b.history.ui.indptr[u + 1]) : undefined);
  });
  const t0 = performance.now();
  const block = known.length > 0 ? await kernel.topK(U, known.length, init.k, exclude) : { items: new Int32Array(0), scores: new Float32Array(0) };
  const kernelMs = performance.now() - t0;

  let propensity: Float32Array | undefined;
  if (ranker && features && known.length > 0) {
    // One ranker call for the whole block: users × k feature rows through the shared feature module.
    const rows = new Float32Array(known.length * init.k * features.width);
    let filled = 0;
    const at: number[] = [];
    known.forEach((r, j) => {
      const u = users[r];
      const cand = Array.from(block.items.subarray(j * init.k, (j + 1) * init.k)).filter((i) => i >= 0);
      at.push(filled);
      features.build({ history: historyOf(b.history.ui, b.history.totals, u), vector: U.subarray(j * d, (j + 1) * d), attrs: b.users[u], now: b.manifest.data.referenceTime }, cand, rows.subarray(filled * features.width));
      filled += cand.length;
    });
    const p = await ranker.score(rows, filled);
    propensity = new Float32Array(known.length * init.k).fill(NaN);
    known.forEach((_, j) => {
      for (let q = 0; q < init.k && block.items[j * init.k + q] >= 0; q++) propensity![j * init.k + q] = p[at[j] + q];
    });
  }

  const results: UserResult[] = [];
  let j = 0;
  let coldStart = 0;
  for (let r = 0; r < users.length; r++) {
    const u = users[r];
    if (j < known.length && known[j] === r) {
      const items: string[] = [];
      const scores: number[] = [];
      const props: number[] = [];
      for (let q = 0; q < init.k; q++) {
        const i = block.items[j * init.k + q];
        if (i < 0) break;
        items.push(b.items[i].id);
        scores.push(block.scores[j * init.k + q]);
        if (propensity) props.push(propensity[j * init.k + q]);
      }
      results.push({ user: ids[r], items, scores, propensity: propensity ? props : undefined, segment: init.segments ? segmentOf(u) : undefined, coldStart: false });
      j++;
    } else {
      // No history (or an id the bundle never saw): what is trending, marked as a cold start.
      coldStart++;
      const items = Array.from(trending.subarray(0, init.k), (i) => b.items[i].id);
      results.push({ user: ids[r], items, scores: items.map(() => NaN), segment: init.segments ? (u >= 0 ? segmentOf(u) : undefined) : undefined, coldStart: true });
    }
  }
  return { text: formatBlock(results, init.format, init.propensity, init.segments), coldStart, kernelMs };
}

function segmentOf(u: number): { id: number; label: string } | undefined {
  const s = b.segments.assignment[u];
  return s >= 0 ? { id: s, label: b.segments.labels[s] } : undefined;
}
