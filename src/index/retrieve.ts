import { recentFirst, type UserHistory } from '../data/history.js';
import type { ItemNeighbours } from '../model/knn.js';
import { ItemAccumulator } from '../util/item-accumulator.js';
import type { HnswIndex } from './hnsw.js';

export interface RetrievalConfig {
  /** Items fetched from HNSW by the user's embedding. */
  candidates: number;
  /** Extra items from the item-kNN neighbours of the most recent history items (0 = HNSW only). */
  knnCandidates: number;
  /** How many of the most recent items seed the kNN candidates. */
  recentWindow: number;
}

/**
 * Whether a request's exclusions are sparse (the history, a few ids, unavailable items) or dense
 * (a category or price filter): sparse ones are cheaper to drop after an unfiltered HNSW search.
 */
export type Exclusion = 'sparse' | 'dense';

export const SOURCE_HNSW = 0;
export const SOURCE_KNN = 1;
export const SOURCE_NAMES = ['hnsw', 'item-knn'] as const;

export interface Retrieved {
  items: Int32Array;
  /** SOURCE_HNSW or SOURCE_KNN per item. */
  source: Uint8Array;
}

/**
 * Candidate generation: HNSW nearest items to the user vector, plus (when configured) the strongest
 * item-kNN neighbours of the user's latest items, which carry the "what comes next" signal an
 * averaged user vector blurs. Excluded items never appear; duplicates are dropped.
 */
export function retrieve(
  hnsw: HnswIndex,
  knn: ItemNeighbours,
  vector: Float32Array | undefined,
  history: UserHistory,
  exclude: Uint8Array,
  cfg: RetrievalConfig,
  acc = new ItemAccumulator(1),
  exclusion: Exclusion = 'sparse',
): Retrieved {
  const items: number[] = [];
  const source: number[] = [];
  const seen = new Set<number>();
  if (vector) {
    // Sparse: the history, plus headroom for unavailable items (a few percent of any list).
    const overfetch = exclusion === 'sparse' ? history.items.length + 16 + Math.ceil(cfg.candidates * 0.1) : undefined;
    for (const i of hnsw.search(vector, cfg.candidates, exclude, overfetch).items) {
      seen.add(i);
      items.push(i);
      source.push(SOURCE_HNSW);
    }
  }
  if (cfg.knnCandidates > 0 && history.items.length > 0) {
    const touched: number[] = [];
    const recent = recentFirst(history, cfg.recentWindow);
    for (let r = 0; r < recent.length; r++) {
      const i = recent[r];
      const w = Math.pow(0.7, r);
      for (let p = knn.indptr[i]; p < knn.indptr[i + 1]; p++) {
        const j = knn.neighbours[p];
        if (exclude[j] || seen.has(j)) continue;
        const before = acc.size;
        const a = acc.slot(j);
        if (acc.size > before) touched.push(j);
        acc.values[a] += w * knn.similarity[p];
      }
    }
    const score = new Map(touched.map((j) => [j, acc.values[acc.find(j)]]));
    acc.clear();
    touched.sort((a, b) => score.get(b)! - score.get(a)! || a - b);
    for (let q = 0; q < touched.length && q < cfg.knnCandidates; q++) {
      items.push(touched[q]);
      source.push(SOURCE_KNN);
    }
  }
  return { items: Int32Array.from(items), source: Uint8Array.from(source) };
}
