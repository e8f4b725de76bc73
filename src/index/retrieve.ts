import { recentBaskets, recentFirst, type UserHistory } from '../data/history.js';
import { type AttributeLists, attributeCandidates } from '../model/attribute-lists.js';
import type { ItemNeighbours } from '../model/knn.js';
import { BestList } from '../util/best-list.js';
import { ItemAccumulator } from '../util/item-accumulator.js';
import type { HnswIndex } from './hnsw.js';

export interface RetrievalConfig {
  /** Items fetched from HNSW by the user's embedding. */
  candidates: number;
  /** Extra items from the item-kNN neighbours of the most recent history items (0 = HNSW only). */
  knnCandidates: number;
  /** Extra items that shoppers went on to after the most recent history items (directed co-visitation). */
  followCandidates: number;
  /**
   * Extra items two steps ahead: what shoppers went on to after the latest baskets' strongest
   * followers. Bundles from before it have none (0).
   */
  chainCandidates: number;
  /**
   * Extra items most bought among the shopper's strongest attributes (rarer and more recent ones
   * weigh more). Bundles from before it have none (0).
   */
  attributeCandidates: number;
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
export const SOURCE_CHAIN = 4;
export const SOURCE_ATTRIBUTES = 5;
export const SOURCE_NAMES = ['hnsw', 'item-knn', 'history', 'follows', 'chain', 'attributes'] as const;
/**
 * How many of the latest baskets' strongest followers seed the chain. MovieLens's test items among
 * the candidates: 0.821 with 20, 0.817 with 10, 0.812 with 5; 10 would cost ~60% of 20's time.
 */
const CHAIN_SEEDS = 20;

/**
 * What retrieval walks from the shopper's history besides the index: symmetric neighbours and
 * directed followers of the latest items, and the attributes' most bought items.
 */
export interface ItemGraphs {
  knn: ItemNeighbours;
  follows: ItemNeighbours;
  /** Absent where the catalogue has no attributes, categories or brands. */
  attributes?: AttributeLists;
}

export interface Retrieved {
  items: Int32Array;
  /** The SOURCE_* that found each item. */
  source: Uint8Array;
}

/**
 * Candidate generation: HNSW nearest items to the user vector, plus (when configured) the strongest
 * item-kNN neighbours of the user's latest items, which carry the "what comes next" signal an
 * averaged user vector blurs, the items shoppers went on to after them, and (the chain) what they
 * went on to after those, and the most bought items of the attributes the shopper keeps coming back
 * to. Excluded items never appear; duplicates are dropped.
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
  const chain = cfg.chainCandidates;
  if ((cfg.knnCandidates > 0 || cfg.followCandidates > 0 || chain > 0) && history.items.length > 0) {
    const recent = recentBaskets(history, cfg.recentWindow, cfg.baskets);
    const decay = Array.from(recent.basket, (b) => Math.pow(0.7, b));
    if (cfg.knnCandidates > 0)
      for (const i of strongest(linked(graphs.knn, recent.items, decay, exclude, acc), cfg.knnCandidates, seen).items)
        take(i, SOURCE_KNN);
    if (cfg.followCandidates > 0 || chain > 0) {
      const follows = linked(graphs.follows, recent.items, decay, exclude, acc);
      for (const i of strongest(follows, cfg.followCandidates, seen).items) take(i, SOURCE_FOLLOWS);
      if (chain > 0) {
        // The followers' head, whether or not an earlier source took them, seeds the chain.
        const seeds = strongest(follows, CHAIN_SEEDS);
        const next = linked(graphs.follows, seeds.items, seeds.scores, exclude, acc);
        for (const i of strongest(next, chain, seen).items) take(i, SOURCE_CHAIN);
      }
    }
  }
  if (cfg.attributeCandidates > 0 && graphs.attributes && history.items.length > 0) {
    for (const i of attributeCandidates(graphs.attributes, history, exclude, cfg.attributeCandidates, seen))
      take(i, SOURCE_ATTRIBUTES);
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

/** Items a graph links from some seeds, with their summed link weights, in no order. */
interface Linked {
  items: number[];
  scores: number[];
}

/**
 * What a graph links from `seeds`, each link weighted by its seed's weight: for the latest baskets'
 * items 0.7 per basket back; for the chain, each follower's own score.
 */
function linked(
  graph: ItemNeighbours,
  seeds: ArrayLike<number>,
  weights: ArrayLike<number>,
  exclude: Uint8Array,
  acc: ItemAccumulator,
): Linked {
  const items: number[] = [];
  for (let r = 0; r < seeds.length; r++) {
    const i = seeds[r];
    const w = weights[r];
    for (let p = graph.indptr[i]; p < graph.indptr[i + 1]; p++) {
      const j = graph.neighbours[p];
      if (exclude[j]) continue;
      const before = acc.size;
      const a = acc.slot(j);
      if (acc.size > before) items.push(j);
      acc.values[a] += w * graph.similarity[p];
    }
  }
  const scores = items.map((j) => acc.values[acc.find(j)]);
  acc.clear();
  return { items, scores };
}

/** The `max` strongest of `l` that `skip` does not hold, strongest first (ties: the lower item index). */
function strongest(l: Linked, max: number, skip?: Set<number>): Linked {
  const best = new BestList(max);
  if (max <= 0) return best;
  for (let t = 0; t < l.items.length; t++) {
    const j = l.items[t];
    const s = l.scores[t];
    if (best.wants(j, s) && !skip?.has(j)) best.offer(j, s);
  }
  return best;
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
