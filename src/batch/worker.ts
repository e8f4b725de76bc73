import { workerData } from 'piscina';
import { fromThread } from '../bundle/threads.js';
import type { BundleData } from '../bundle/model.js';
import { encodeCatalog } from '../data/catalog.js';
import { FeatureBuilder } from '../features/features.js';
import { historyOf } from '../data/history.js';
import { itemsOf } from '../data/interactions.js';
import { profileVector } from '../model/profile.js';
import { assignSegment, segmentClock } from '../model/segments.js';
import { OnnxRanker } from '../rank/onnx-ranker.js';
import { createKernel } from './choose-kernel.js';
import { KernelUnavailable, type KernelName, type TopKBlock } from './kernels/kernel.js';
import { formatBlock, type OutputFormat, type UserResult } from './output.js';
import { choosePromotion, type PromotionPlan } from './promotion-plan.js';
import { favouriteCategories } from '../promotions/context.js';

/** What every batch worker receives: the bundle (shared arrays) and the job's settings. */
export interface BatchWorkerInit {
  bundle: BundleData;
  kernel: KernelName;
  k: number;
  format: OutputFormat;
  propensity: boolean;
  segments: boolean;
  excludeSeen: boolean;
  /** Leave out items the catalogue marks unavailable, as `recommend` does by default. */
  availableOnly: boolean;
  promotions?: PromotionPlan;
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
  /** The kernel's device when it is not the worker's CPU (the WebGPU adapter). */
  device?: string;
  /** Why the backend cannot run here (answered to the warm-up call instead of failing the worker). */
  unavailable?: string;
}

const init = workerData as BatchWorkerInit;
const b = fromThread(init.bundle);
const d = b.als.factors;
const numItems = b.items.length;
/**
 * The items the kernel scores: all of them, or only the available ones (then the kernel works on a
 * compact copy and `scored` maps its indices back), so unavailable items cost no FLOPs and never
 * take a place in a user's top K.
 */
const scored = Int32Array.from({ length: numItems }, (_, i) => i).filter(
  (i) => !init.availableOnly || b.items[i].available,
);
const compact = scored.length < numItems;
const compactIndex = new Int32Array(numItems).fill(-1);
scored.forEach((i, c) => (compactIndex[i] = c));
const scoredFactors = compact ? gatherRows(b.als.itemFactors, scored, d) : b.als.itemFactors;
/** More results than scored items are padding: rows and buffers are sized by what can be filled. */
const k = Math.min(init.k, scored.length);
const made = await createKernel(init.kernel, scoredFactors, scored.length, d).catch((e: unknown) => {
  if (e instanceof KernelUnavailable) return e;
  throw e;
});
// Propensity rows rank each item as if it headed the retrieval list serving builds (every source's
// places), so an item's propensity does not depend on --k.
const retrievalListSize =
  b.retrieval.candidates +
  b.retrieval.knnCandidates +
  b.retrieval.followCandidates +
  b.retrieval.chainCandidates +
  b.retrieval.attributeCandidates;
const catalog = encodeCatalog(b.items);
// The purchase-labelled model where the bundle has one, else the ranker (its probability of any interaction).
const ranker = init.propensity
  ? await OnnxRanker.create(b.propensityOnnx ?? b.rankerOnnx, b.featureSpec.names.length)
  : undefined;
const features = init.propensity
  ? new FeatureBuilder(
      {
        catalog,
        factors: d,
        itemFactors: b.als.itemFactors,
        knn: b.knn,
        follows: b.follows,
        popularity: b.popularity,
        rules: b.rules,
      },
      b.featureSpec,
    )
  : undefined;
const trend = b.popularity.trending;
const trending = Int32Array.from(scored).sort((x, y) => trend[y] - trend[x] || x - y);

export default async function scoreBlock(task: BatchTask): Promise<BatchReply> {
  if (made instanceof KernelUnavailable) {
    if (task.users.length > 0) throw made;
    return { text: '', coldStart: 0, kernelMs: 0, unavailable: made.message };
  }
  const kernel = made;
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
    const rej = b.history.rejected;
    const rejected = rej.items.subarray(rej.indptr[u], rej.indptr[u + 1]);
    // Disliked or returned items are never listed; the rest of the history only with excludeSeen.
    const off = init.excludeSeen
      ? b.history.ui.items.subarray(b.history.ui.indptr[u], b.history.ui.indptr[u + 1])
      : new Int32Array(0);
    const all = rejected.length > 0 ? Int32Array.from([...off, ...rejected]) : off;
    exclude.push(
      all.length === 0 ? undefined : compact ? Int32Array.from(all, (i) => compactIndex[i]).filter((c) => c >= 0) : all,
    );
  });
  const t0 = performance.now();
  const block =
    known.length > 0
      ? await kernel.topK(U, known.length, k, exclude)
      : { items: new Int32Array(0), scores: new Float32Array(0) };
  const kernelMs = performance.now() - t0;
  if (compact)
    for (let x = 0; x < block.items.length; x++) if (block.items[x] >= 0) block.items[x] = scored[block.items[x]];

  const propensity =
    ranker && features && known.length > 0 ? await blockPropensities(known, users, block, U) : undefined;

  const results: UserResult[] = [];
  let j = 0;
  let coldStart = 0;
  for (let r = 0; r < users.length; r++) {
    const u = users[r];
    if (j < known.length && known[j] === r) {
      const items: string[] = [];
      const scores: number[] = [];
      const props: number[] = [];
      for (let q = 0; q < k; q++) {
        const i = block.items[j * k + q];
        if (i < 0) break;
        items.push(b.items[i].id);
        scores.push(block.scores[j * k + q]);
        if (propensity) props.push(propensity[j * k + q]);
      }
      results.push({
        user: ids[r],
        items,
        embeddingScores: scores,
        propensity: propensity ? props : undefined,
        segment: init.segments ? segmentOf(u) : undefined,
        coldStart: false,
      });
      j++;
    } else {
      // No history (or an id the bundle never saw): what is trending, marked as a cold start.
      coldStart++;
      const items = trendingFor(u, k);
      results.push({
        user: ids[r],
        items,
        embeddingScores: items.map(() => NaN),
        segment: init.segments ? (u >= 0 ? segmentOf(u) : undefined) : undefined,
        coldStart: true,
      });
    }
  }
  if (init.promotions)
    results.forEach((res, r) => (res.promotion = promotionFor(init.promotions!, users[r], res.user)));
  return {
    text: formatBlock(results, init.format, init.propensity, init.segments, Boolean(init.promotions)),
    coldStart,
    kernelMs,
    device: kernel.device,
  };
}

/** The k most trending items, less any the shopper disliked or returned (a history of only those is cold). */
function trendingFor(u: number, k: number): string[] {
  const off = u >= 0 ? new Set(itemsOf(b.history.rejected, u)) : undefined;
  const out: string[] = [];
  for (let q = 0; q < trending.length && out.length < k; q++)
    if (!off?.has(trending[q])) out.push(b.items[trending[q]].id);
  return out;
}

function gatherRows(m: Float32Array, rows: Int32Array, d: number): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, j) => out.set(m.subarray(r * d, (r + 1) * d), j * d));
  return out;
}

/** The context `promotion` would decide on (no basket: a campaign), then its choice. */
function promotionFor(plan: PromotionPlan, u: number, user: string): UserResult['promotion'] {
  const h = u >= 0 ? historyOf(b.history.ui, b.history.totals, u) : undefined;
  const seg = u >= 0 ? segmentOf(u) : undefined;
  const ctx = {
    segment: seg?.id ?? -1,
    segmentLabel: seg?.label ?? 'new',
    categories: h ? favouriteCategories(h, catalog) : [],
    basket: undefined,
    now: plan.now,
  };
  return choosePromotion(plan, ctx, user);
}

/** The user's segment by the rule `profile` follows: the nearest centroid at the segment clock. */
function segmentOf(u: number): { id: number; label: string } | undefined {
  const h = historyOf(b.history.ui, b.history.totals, u);
  if (h.items.length === 0) return undefined;
  const s = assignSegment(
    b.segments,
    profileVector(h, segmentClock(b.manifest.data.referenceTime), catalog, b.segments.spec),
  );
  return { id: s, label: b.segments.labels[s] };
}

/**
 * The ranker's probability for every returned item of a block, in one ranker call: users × k
 * feature rows through the shared feature module. NaN where a user has fewer than k items.
 */
async function blockPropensities(
  known: readonly number[],
  users: Int32Array,
  block: TopKBlock,
  U: Float32Array,
): Promise<Float32Array> {
  const fb = features!;
  const rows = new Float32Array(known.length * k * fb.width);
  let filled = 0;
  const at: number[] = [];
  known.forEach((r, j) => {
    const u = users[r];
    const cand = Array.from(block.items.subarray(j * k, (j + 1) * k)).filter((i) => i >= 0);
    at.push(filled);
    const user = {
      history: historyOf(b.history.ui, b.history.totals, u),
      vector: U.subarray(j * d, (j + 1) * d),
      attrs: b.users[u],
      now: b.manifest.data.referenceTime,
    };
    fb.build(user, cand, rows.subarray(filled * fb.width), { size: retrievalListSize });
    filled += cand.length;
  });
  const p = await ranker!.score(rows, filled);
  const propensity = new Float32Array(known.length * k).fill(NaN);
  known.forEach((_, j) => {
    for (let q = 0; q < k && block.items[j * k + q] >= 0; q++) propensity[j * k + q] = p[at[j] + q];
  });
  return propensity;
}
