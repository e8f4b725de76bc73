import hnswlib from 'hnswlib-node';
import { topK } from '../util/topk.js';
import { Progress } from '../util/progress.js';

type Native = InstanceType<typeof hnswlib.HierarchicalNSW>;

export type HnswTransform = 'none' | 'augment';

export interface HnswParams {
  /** Inner product: the retrieval score is the same user·item dot product the ranker sees. */
  space: 'ip';
  /** `augment`: the MIPS-to-nearest-neighbour transform below; `none`: raw inner-product graph. */
  transform: HnswTransform;
  M: number;
  efConstruction: number;
  efSearch: number;
  seed: number;
}

export const DEFAULT_HNSW: HnswParams = { space: 'ip', transform: 'augment', M: 32, efConstruction: 200, efSearch: 200, seed: 100 };

export interface Neighbours {
  items: Int32Array;
  /** Inner products with the query (higher is better). */
  scores: Float32Array;
}

/**
 * Maximum-inner-product search on hnswlib. With the `augment` transform item vectors get one extra
 * coordinate, sqrt(maxNorm² − |v|²), so every stored vector has the same norm and queries get a 0
 * there: inner products are unchanged, but the graph indexes a space where "largest inner product"
 * is "nearest neighbour" (Bachrach et al. 2014). Which works better depends on the norm
 * distribution: a raw inner-product graph can leave small-norm items unreachable, while the
 * transform collapses the geometry when a few items have much larger norms than the rest; the
 * build measures both (see chooseHnsw in train/build.ts).
 */
export class HnswIndex {
  private readonly row: number[];

  private constructor(
    private readonly native: Native,
    readonly dim: number,
    /** 0 when there is no transform. */
    readonly maxNorm: number,
    readonly transform: HnswTransform,
  ) {
    this.row = new Array<number>(this.width).fill(0);
  }

  private get width(): number {
    return this.transform === 'augment' ? this.dim + 1 : this.dim;
  }

  static build(vectors: Float32Array, n: number, d: number, params: HnswParams): HnswIndex {
    let maxNorm = 0;
    if (params.transform === 'augment') for (let i = 0; i < n; i++) maxNorm = Math.max(maxNorm, norm(vectors, i * d, d));
    const native = new hnswlib.HierarchicalNSW(params.space, params.transform === 'augment' ? d + 1 : d);
    native.initIndex({ maxElements: Math.max(1, n), m: params.M, efConstruction: params.efConstruction, randomSeed: params.seed });
    const index = new HnswIndex(native, d, maxNorm, params.transform);
    const progress = new Progress('hnsw build', n, 'items');
    for (let i = 0; i < n; i++) {
      // An item nobody interacted with has a zero vector: its inner product with every user is 0,
      // so it can never outrank a real candidate, and thousands of identical points only tangle the
      // graph (a third of a long-tailed catalogue can be such items). They stay out of the index.
      if (norm(vectors, i * d, d) > 0) index.add(vectors.subarray(i * d, (i + 1) * d), i);
      progress.tick();
    }
    progress.finish();
    native.setEf(params.efSearch);
    return index;
  }

  static load(path: string, d: number, transform: HnswTransform, maxNorm: number, efSearch: number): HnswIndex {
    const native = new hnswlib.HierarchicalNSW('ip', transform === 'augment' ? d + 1 : d);
    native.readIndexSync(path);
    native.setEf(efSearch);
    return new HnswIndex(native, d, maxNorm, transform);
  }

  /** Adds (or places) one item; its norm must not exceed maxNorm (averages of indexed items never do). */
  add(vector: ArrayLike<number>, label: number): void {
    let sq = 0;
    for (let k = 0; k < this.dim; k++) {
      this.row[k] = vector[k];
      sq += vector[k] * vector[k];
    }
    if (this.transform === 'augment') this.row[this.dim] = Math.sqrt(Math.max(0, this.maxNorm * this.maxNorm - sq));
    if (label >= this.native.getMaxElements()) this.native.resizeIndex(Math.max(label + 1, Math.ceil(this.native.getMaxElements() * 1.25)));
    this.native.addPoint(this.row, label);
  }

  /** Items in the index (items with a zero vector are not indexed). */
  get count(): number {
    return this.native.getCurrentCount();
  }

  setEf(ef: number): void {
    this.native.setEf(ef);
  }

  write(path: string): void {
    this.native.writeIndexSync(path);
  }

  /**
   * The k items with the highest inner product with `query`, skipping items where `exclude` is set.
   * Returns fewer than k when fewer items are eligible. With `overfetch`, the search first runs
   * unfiltered for k + overfetch items and drops excluded ones afterwards: hnswlib's filter calls back
   * into JavaScript for every visited node (a quarter of the search time), which is wasted when few
   * items are excluded. If that leaves fewer than k, it falls back to the filtered search.
   */
  search(query: ArrayLike<number>, k: number, exclude?: Uint8Array, overfetch?: number): Neighbours {
    if (exclude && overfetch !== undefined) {
      const wide = this.search(query, k + overfetch);
      const items: number[] = [];
      const scores: number[] = [];
      for (let r = 0; r < wide.items.length && items.length < k; r++) {
        if (exclude[wide.items[r]]) continue;
        items.push(wide.items[r]);
        scores.push(wide.scores[r]);
      }
      // Enough left, or the unfiltered search already saw every item: the answer is exact.
      if (items.length >= k || wide.items.length >= this.count) return { items: Int32Array.from(items), scores: Float32Array.from(scores) };
    }
    const count = this.count;
    const want = Math.min(k, count);
    if (want <= 0) return { items: new Int32Array(0), scores: new Float32Array(0) };
    const q = new Array<number>(this.width).fill(0);
    for (let c = 0; c < this.dim; c++) q[c] = query[c];
    const filter = exclude ? (label: number): boolean => exclude[label] === 0 : undefined;
    let res: { neighbors: number[]; distances: number[] } = { neighbors: [], distances: [] };
    // hnswlib throws when fewer than the asked-for number of items pass the filter; ask for fewer
    // until the answer fits (only very restrictive filters get here).
    for (let ask = want; ask > 0; ask = Math.floor(ask / 2)) {
      try {
        res = this.native.searchKnn(q, ask, filter);
        break;
      } catch {
        continue;
      }
    }
    // hnswlib returns nearest first, by distance 1 − dot.
    return { items: Int32Array.from(res.neighbors), scores: Float32Array.from(res.distances, (dist) => 1 - dist) };
  }
}

function norm(v: Float32Array, o: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += v[o + k] * v[o + k];
  return Math.sqrt(s);
}

/** Exact inner-product top-k by brute force: the reference HNSW recall is measured against. */
export function exactTopK(vectors: Float32Array, n: number, d: number, query: ArrayLike<number>, k: number, exclude?: Uint8Array, scratch = new Float32Array(n)): Int32Array {
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * d;
    for (let c = 0; c < d; c++) s += vectors[o + c] * query[c];
    scratch[i] = s;
  }
  return topK(scratch, k, exclude);
}

/**
 * Mean recall@k of the index against exact search over the given query vectors. An item scoring
 * within 0.1% of the best score's magnitude of the exact k-th score counts as a hit: in a long-tailed
 * catalogue the k-th place is often one of thousands of items with near-zero scores, and which of
 * them is returned is noise, not a retrieval miss.
 */
export function hnswRecall(index: HnswIndex, vectors: Float32Array, n: number, d: number, queries: Float32Array, numQueries: number, k: number): number {
  let total = 0;
  const scratch = new Float32Array(n);
  for (let q = 0; q < numQueries; q++) {
    const query = queries.subarray(q * d, q * d + d);
    const exact = exactTopK(vectors, n, d, query, k, undefined, scratch);
    if (exact.length === 0) {
      total += 1;
      continue;
    }
    const kth = scratch[exact[exact.length - 1]];
    const tol = Math.max(1e-6, 1e-3 * Math.abs(scratch[exact[0]]));
    let hit = 0;
    for (const i of index.search(query, k).items) if (scratch[i] >= kth - tol) hit++;
    total += Math.min(hit, exact.length) / exact.length;
  }
  return numQueries > 0 ? total / numQueries : 1;
}
