import type { Ranking } from '../protocol/calls.js';
import type { UserAttributes } from '../data/types.js';
import type { UserHistory } from '../data/history.js';
import { retrieveBatched, SOURCE_NAMES, SOURCE_OWN, type Exclusion, type RetrievalConfig } from '../index/retrieve.js';
import { foldInUser } from '../model/als.js';
import { dot } from '../util/linalg.js';
import { topK } from '../util/topk.js';
import type { RecModel } from './model.js';

/** Which stage produced a returned item: a retriever whose candidates the ranker ordered, or the trending fallback. */
export type Stage = (typeof SOURCE_NAMES)[number] | 'trending';

export interface RecommendInput {
  history: UserHistory;
  /** The user's embedding when already known (a stored vector for an unchanged history); else folded in. */
  vector?: Float32Array;
  attrs?: UserAttributes;
  now: number;
  k: number;
  /** Items that must not be returned (already bought, filtered out); nonzero = excluded. */
  exclude: Uint8Array;
  /** Overrides of the bundle's retrieval settings (candidate counts). */
  retrieval?: Partial<RetrievalConfig>;
  /** `dense` when a category or price filter excludes much of the catalogue. */
  exclusion?: Exclusion;
  /** `embeddings`: the retrieved candidates ordered by the user vector alone; `popularity`: trending only. */
  ranking?: Ranking;
  /**
   * Only the shopper's own items ("buy it again"): the list a request with excludeSeen false gets,
   * less everything else, so each own item keeps the place in the list, and the features, it has there.
   */
  onlyOwn?: boolean;
  /** Filled with when (performance.now()) each stage ended, for the server's latency breakdown. */
  marks?: StageMarks;
}

/** When a recommendation's stages ended: retrieval (HNSW and kNN), feature rows, the ranker's answer. */
export interface StageMarks {
  retrieved?: number;
  featured?: number;
  ranked?: number;
}

export interface Ranked {
  items: Int32Array;
  /** Ranker probability for ranked items; trending fill-ins carry NaN. */
  scores: Float32Array;
  stages: Stage[];
  /** The user vector used (undefined for a cold-start user). */
  vector?: Float32Array;
}

/** A user's vector: the stored one when given, else an exact fold-in of the history, else none (cold start). */
export function userVector(model: RecModel, history: UserHistory, stored?: Float32Array): Float32Array | undefined {
  if (stored) return stored;
  if (history.items.length === 0) return undefined;
  return foldInUser(model.data.als, history.items, history.counts);
}

/**
 * Two-stage recommendation: candidates from HNSW (by the user's embedding), item-kNN, followers and
 * their followers (from the latest items), features from the shared feature module, the ONNX ranker's probability, best k.
 * Cold-start users, and any shortfall after filters, get trending items, so every request returns
 * up to k valid items.
 */
export async function recommend(model: RecModel, input: RecommendInput): Promise<Ranked> {
  const vector = input.ranking === 'popularity' ? undefined : userVector(model, input.history, input.vector);
  const items: number[] = [];
  const scores: number[] = [];
  const stages: Stage[] = [];
  if (vector) {
    const cfg = { ...model.data.retrieval, ...input.retrieval };
    const cand = await retrieveBatched(
      model.hnsw,
      model.graphs,
      vector,
      input.history,
      input.exclude,
      cfg,
      model.scratch,
      input.exclusion,
    );
    const n = cand.items.length;
    if (input.marks) input.marks.retrieved = performance.now();
    // Positions in the whole list, kept for the own items when only they are ranked.
    const at = input.onlyOwn ? ownPositions(cand.source) : undefined;
    const list = at ? Int32Array.from(at, (r) => cand.items[r]) : cand.items;
    const m = list.length;
    if (m > 0 && input.ranking === 'embeddings') {
      const dots = embeddingScores(model, vector, list);
      for (const r of topK(dots, input.k)) {
        items.push(list[r]);
        scores.push(dots[r]);
        stages.push(SOURCE_NAMES[cand.source[at ? at[r] : r]]);
      }
    } else if (m > 0) {
      const rows = new Float32Array(m * model.features.width);
      const user = { history: input.history, vector, attrs: input.attrs, now: input.now };
      model.features.build(user, list, rows, at && { size: n, rank: at });
      if (input.marks) input.marks.featured = performance.now();
      const probs = await model.ranker.score(rows, m);
      if (input.marks) input.marks.ranked = performance.now();
      for (const r of topK(probs, input.k)) {
        items.push(list[r]);
        scores.push(probs[r]);
        stages.push(SOURCE_NAMES[cand.source[at ? at[r] : r]]);
      }
    }
  }
  if (items.length < input.k) {
    const [order, stage] = input.onlyOwn
      ? [ownByTrend(model, input.history), 'history' as const]
      : [model.trendingOrder, 'trending' as const];
    fill(order, stage, input.exclude, input.k, items, scores, stages);
  }
  return { items: Int32Array.from(items), scores: Float32Array.from(scores), stages, vector };
}

/** The candidates' dot products with the user vector (the ALS score, before any ranker). */
function embeddingScores(model: RecModel, vector: Float32Array, items: Int32Array): Float32Array {
  const f = model.data.als.factors;
  const Y = model.data.als.itemFactors;
  return Float32Array.from(items, (i) => dot(vector, 0, Y, i * f, f));
}

function ownPositions(source: Uint8Array): number[] {
  const out: number[] = [];
  source.forEach((s, r) => {
    if (s === SOURCE_OWN) out.push(r);
  });
  return out;
}

/** The shopper's other own items (none ranked: a cold vector, popularity ranking), most trending first. */
function ownByTrend(model: RecModel, history: UserHistory): number[] {
  const trend = model.data.popularity.trending;
  return Array.from(history.items).sort((a, b) => trend[b] - trend[a] || a - b);
}

/** Appends unranked items from `order` (score NaN) up to k, skipping excluded and listed ones. */
function fill(
  order: Iterable<number>,
  stage: Stage,
  exclude: Uint8Array,
  k: number,
  items: number[],
  scores: number[],
  stages: Stage[],
): void {
  const taken = new Set(items);
  for (const i of order) {
    if (items.length >= k) break;
    if (exclude[i] || taken.has(i)) continue;
    items.push(i);
    scores.push(NaN);
    stages.push(stage);
  }
}
