import { type RecentBaskets, recentBaskets, recentFirst, type UserHistory } from '../data/history.js';
import type { ItemNeighbours } from '../model/knn.js';
import { ItemAccumulator } from '../util/item-accumulator.js';
import type { HnswIndex } from './hnsw.js';

export interface RetrievalConfig {
  /** Items fetched from HNSW by the user's embedding. */
  candidates: number;
  /** Extra items from the item-kNN neighbours of the most recent history items (0 = HNSW only). */
  knnCandidates: number;
  /** Extra items that shoppers went on to after the most recent history items (directed co-visitation). */
  followCandidates: number;
  /** How many of the most recent items seed the kNN candidates (whole baskets: see recentBaskets). */
  recentWindow: number;
  /** Items touched at one timestamp form a basket (train --baskets: each item its own when off). */
  baskets: boolean;
  /**
   * The shopper's own items (most recent first) added when the request allows them (`excludeSeen`
   * false): "buy it again" candidates the ranker weighs by its repeat features. Excluded ones cost nothing.
   */
  ownCandidates: number;
}

/**
 * Whether a request's exclusions are sparse (the history, a few ids, unavailable items) or dense
 * (a category or price filter): sparse ones are cheaper to drop after an unfiltered HNSW search.
 */
export type Exclusion = 'sparse' | 'dense';

export const SOURCE_HNSW = 0;
export const SOURCE_KNN = 1;
export const SOURCE_OWN = 2;
export const SOURCE_FOLLOWS = 3;
export const SOURCE_NAMES = ['hnsw', 'item-knn', 'history', 'follows'] as const;

/** The item graphs retrieval walks from the latest items: symmetric neighbours and directed followers. */
export interface ItemGraphs {
  knn: ItemNeighbours;
  follows: ItemNeighbours;
}

export interface Retrieved {
  items: Int32Array;
  /** SOURCE_HNSW, SOURCE_KNN, SOURCE_FOLLOWS or SOURCE_OWN per item. */
  source: Uint8Array;
}

/**
 * Candidate generation: HNSW nearest items to the user vector, plus (when configured) the strongest
 * item-kNN neighbours of the user's latest items, which carry the "what comes next" signal an
 * averaged user vector blurs, and the items shoppers went on to after them. Excluded items never
 * appear; duplicates are dropped.
 */
export function retrieve(
  hnsw: HnswIndex,
  graphs: ItemGraphs,
  vector: Float32Array | undefined,
  history: UserHistory,
  exclude: Uint8Array,
  cfg: RetrievalConfig,
  acc = new ItemAccumulator(1),
  exclusion: Exclusion = 'sparse',
  /** HNSW's answer, when the caller searched already (retrieveBatched). */
  found?: Int32Array,
): Retrieved {
  const items: number[] = [];
  const source: number[] = [];
  const seen = new Set<number>();
  // The shopper's own items the request lets back: found by any source, they are named as theirs.
  const own = ownAllowed(history, exclude);
  const take = (i: number, from: number): void => {
    seen.add(i);
    items.push(i);
    source.push(own?.has(i) ? SOURCE_OWN : from);
  };
  if (vector && cfg.candidates > 0) {
    const hits = found ?? hnsw.search(vector, cfg.candidates, exclude, overfetchFor(history, cfg, exclusion)).items;
    for (const i of hits) take(i, SOURCE_HNSW);
  }
  if ((cfg.knnCandidates > 0 || cfg.followCandidates > 0) && history.items.length > 0) {
    const recent = recentBaskets(history, cfg.recentWindow, cfg.baskets);
    for (const i of strongest(graphs.knn, recent, exclude, seen, cfg.knnCandidates, acc)) take(i, SOURCE_KNN);
    for (const i of strongest(graphs.follows, recent, exclude, seen, cfg.followCandidates, acc))
      take(i, SOURCE_FOLLOWS);
  }
  if (own && cfg.ownCandidates > 0) addOwn(history, exclude, cfg.ownCandidates, seen, items, source);
  return { items: Int32Array.from(items), source: Uint8Array.from(source) };
}

/**
 * retrieve, with the HNSW search scored together with the others of the same synchronous run
 * (serving: see HnswIndex.searchBatched). The candidates are the same exact top k.
 */
export async function retrieveBatched(
  hnsw: HnswIndex,
  graphs: ItemGraphs,
  vector: Float32Array | undefined,
  history: UserHistory,
  exclude: Uint8Array,
  cfg: RetrievalConfig,
  acc = new ItemAccumulator(1),
  exclusion: Exclusion = 'sparse',
): Promise<Retrieved> {
  const found =
    vector && cfg.candidates > 0
      ? (await hnsw.searchBatched(vector, cfg.candidates, exclude, overfetchFor(history, cfg, exclusion))).items
      : undefined;
  return retrieve(hnsw, graphs, vector, history, exclude, cfg, acc, exclusion, found);
}

/** Sparse exclusions (the history, plus headroom for unavailable items: a few percent of any list) are dropped after an unfiltered search. */
function overfetchFor(history: UserHistory, cfg: RetrievalConfig, exclusion: Exclusion): number | undefined {
  return exclusion === 'sparse' ? history.items.length + 16 + Math.ceil(cfg.candidates * 0.1) : undefined;
}

/** The `max` items a graph links most strongly from the latest baskets (0.7 per basket back), not yet taken. */
function strongest(
  graph: ItemNeighbours,
  recent: RecentBaskets,
  exclude: Uint8Array,
  seen: Set<number>,
  max: number,
  acc: ItemAccumulator,
): number[] {
  if (max <= 0) return [];
  const touched: number[] = [];
  for (let r = 0; r < recent.items.length; r++) {
    const i = recent.items[r];
    const w = Math.pow(0.7, recent.basket[r]);
    for (let p = graph.indptr[i]; p < graph.indptr[i + 1]; p++) {
      const j = graph.neighbours[p];
      if (exclude[j] || seen.has(j)) continue;
      const before = acc.size;
      const a = acc.slot(j);
      if (acc.size > before) touched.push(j);
      acc.values[a] += w * graph.similarity[p];
    }
  }
  const score = new Map(touched.map((j) => [j, acc.values[acc.find(j)]]));
  acc.clear();
  touched.sort((a, b) => score.get(b)! - score.get(a)! || a - b);
  return touched.slice(0, max);
}

/** The history's items a request does not exclude, or undefined when there are none (the usual case: excludeSeen). */
function ownAllowed(history: UserHistory, exclude: Uint8Array): Set<number> | undefined {
  let open: Set<number> | undefined;
  for (const i of history.items) if (!exclude[i]) (open ??= new Set()).add(i);
  return open;
}

/** The shopper's own items that the request does not exclude, most recent first, up to `max` of them. */
function addOwn(
  history: UserHistory,
  exclude: Uint8Array,
  max: number,
  seen: Set<number>,
  items: number[],
  source: number[],
): void {
  let added = 0;
  for (const i of recentFirst(history)) {
    if (added >= max) break;
    if (exclude[i] || seen.has(i)) continue;
    items.push(i);
    source.push(SOURCE_OWN);
    added++;
  }
}
