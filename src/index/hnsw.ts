import { join } from 'node:path';
import { topK } from '../util/topk.js';
import { Progress } from '../util/progress.js';
import { HnswPartition } from './hnsw-partition.js';
import { PartitionMerge } from './partition-merge.js';
import { NARROW_SCAN_MAX_ITEMS, SCAN_MAX_ITEMS, ScanGroup, searchUnits, WIDE_SEARCH_K } from './scan-group.js';

export interface HnswParams {
  /** Inner product: the retrieval score is the same user·item dot product the ranker sees. */
  space: 'ip';
  M: number;
  efConstruction: number;
  efSearch: number;
  seed: number;
  /** A norm partition closes once its largest norm exceeds its smallest by this factor... */
  partitionNormRatio: number;
  /** ...and it holds at least this many items. */
  minPartitionSize: number;
}

export const DEFAULT_HNSW: HnswParams = {
  space: 'ip',
  M: 12,
  efConstruction: 200,
  efSearch: 200,
  seed: 100,
  partitionNormRatio: 2,
  minPartitionSize: 1000,
};

/** What a bundle records of each partition: its file and the norm bound its pruning relies on. */
export interface PartitionInfo {
  file: string;
  maxNorm: number;
  items: number;
}

export interface Neighbours {
  items: Int32Array;
  /** Inner products with the query (higher is better). */
  scores: Float32Array;
}

/**
 * Maximum-inner-product search over item embeddings, split into partitions by vector norm, each
 * its own graph (see HnswPartition). One graph over all items fails on long-tailed catalogues,
 * whose norms span three orders of magnitude: an inner-product graph leaves small-norm items
 * unreachable (recall@200 on a 100k-item shop: 0.80 at efSearch 200, still 0.85 at 4000), and a
 * single norm-equalising transform is dominated by the few largest norms (0.60 at 200). Partitions are
 * searched from the largest norms down. No item of a partition can score more than |query| × its
 * largest norm, so results already at or above that bound are settled: the partition is asked only
 * for the rest, and skipped (with all after it) once all k are settled. Most queries are answered
 * from two or three partitions.
 */
export class HnswIndex {
  /** Searches run and the graphs and scan groups they visited (the benchmark reports the ratio). */
  searches = 0;
  partitionsSearched = 0;
  private ef: number;
  /** What answers searches, in the partitions' order: graphs and scan groups (see searchUnits). */
  private wide: (HnswPartition | ScanGroup)[] = [];
  /** The same for searches of fewer than WIDE_SEARCH_K results: smaller groups. */
  private narrow: (HnswPartition | ScanGroup)[] = [];

  private constructor(
    /** Ordered by maxNorm, largest first. */
    private readonly parts: HnswPartition[],
    readonly dim: number,
    efSearch: number,
  ) {
    this.ef = efSearch;
    this.setScanMaxItems(SCAN_MAX_ITEMS);
  }

  static build(vectors: Float32Array, n: number, d: number, params: HnswParams): HnswIndex {
    const norms = new Float32Array(n);
    for (let i = 0; i < n; i++) norms[i] = norm(vectors, i * d, d);
    // An item nobody interacted with has a zero vector: its inner product with every user is 0,
    // so it could only place above items the user scores below zero (the tail of a list, on tiny
    // catalogues), and thousands of identical points only tangle a graph (a third of a long-tailed
    // catalogue can be such items). They stay out of the index; trending and attribute placement
    // are how they reach shoppers.
    const order = Array.from({ length: n }, (_, i) => i)
      .filter((i) => norms[i] > 0)
      .sort((a, b) => norms[b] - norms[a] || a - b);
    const groups: number[][] = [];
    let current: number[] = [];
    for (const i of order) {
      if (current.length >= params.minPartitionSize && norms[current[0]] > params.partitionNormRatio * norms[i]) {
        groups.push(current);
        current = [];
      }
      current.push(i);
    }
    if (current.length > 0 || groups.length === 0) groups.push(current);
    const progress = new Progress('hnsw build', order.length, 'items');
    const parts = groups.map((g, p) => {
      const part = HnswPartition.create(d, g.length > 0 ? norms[g[0]] : 0, g.length, {
        M: params.M,
        efConstruction: params.efConstruction,
        seed: params.seed + p,
      });
      for (const i of g) {
        part.add(vectors.subarray(i * d, (i + 1) * d), i);
        progress.tick();
      }
      return part;
    });
    progress.finish();
    return new HnswIndex(parts, d, params.efSearch);
  }

  static load(dir: string, d: number, partitions: readonly PartitionInfo[], efSearch: number): HnswIndex {
    const parts = partitions.map((p) => HnswPartition.load(join(dir, p.file), d, p.maxNorm));
    return new HnswIndex(parts, d, efSearch);
  }

  /**
   * The same, for a thread that serves while it loads (the main thread's own model, see
   * InlineLane): graphs read on libuv's thread pool one at a time, and `pace` awaited between steps.
   */
  static async loadInSteps(
    dir: string,
    d: number,
    partitions: readonly PartitionInfo[],
    efSearch: number,
    pace: () => Promise<void>,
  ): Promise<HnswIndex> {
    const parts: HnswPartition[] = [];
    for (const p of partitions) parts.push(await HnswPartition.loadInBackground(join(dir, p.file), d, p.maxNorm));
    await pace();
    return new HnswIndex(parts, d, efSearch);
  }

  /** File names and norm bounds, largest norms first; `write` uses these names. */
  get partitions(): PartitionInfo[] {
    return this.parts.map((p, i) => ({ file: `hnsw_${i}.bin`, maxNorm: p.maxNorm, items: p.count }));
  }

  write(dir: string): PartitionInfo[] {
    const info = this.partitions;
    this.parts.forEach((p, i) => p.write(join(dir, info[i].file)));
    return info;
  }

  /**
   * Adds (or places) one item in the partition with the tightest bound that holds its norm. A
   * vector longer than every bound goes to the first partition, which every search visits, so the
   * pruning never skips it.
   */
  add(vector: ArrayLike<number>, label: number): void {
    let sq = 0;
    for (let k = 0; k < this.dim; k++) sq += vector[k] * vector[k];
    const len = Math.sqrt(sq);
    let target = 0;
    for (let p = 0; p < this.parts.length; p++) if (this.parts[p].maxNorm >= len) target = p;
    const part = this.parts[target];
    part.add(vector, label);
    for (const unit of [...this.wide, ...this.narrow])
      if (unit instanceof ScanGroup && unit.parts.includes(part)) unit.invalidate();
  }

  /** Items in the index (items with a zero vector are not indexed). */
  get count(): number {
    let c = 0;
    for (const p of this.parts) c += p.count;
    return c;
  }

  /**
   * Runs of partitions up to this many items together are answered by one exact scan (default
   * SCAN_MAX_ITEMS; narrow searches at most NARROW_SCAN_MAX_ITEMS; 0: graphs only).
   */
  setScanMaxItems(items: number): void {
    this.wide = searchUnits(this.parts, this.dim, items);
    this.narrow = searchUnits(this.parts, this.dim, Math.min(items, NARROW_SCAN_MAX_ITEMS));
  }

  /**
   * Makes the scan groups' scans: done at start-up, after
   * any placement, so no request pays for it; otherwise the first search to reach one would.
   */
  prepareScans(): void {
    for (const unit of [...this.wide, ...this.narrow]) if (unit instanceof ScanGroup) unit.prepare();
  }

  /** The same in steps, awaiting `pace` between them (see loadInSteps). */
  async prepareScansInSteps(pace: () => Promise<void>): Promise<void> {
    for (const unit of [...this.wide, ...this.narrow])
      if (unit instanceof ScanGroup) {
        await unit.prepareInSteps(pace);
        await pace();
      }
  }

  /** The search breadth for k results; a partition asked for fewer gets a proportional share. */
  setEf(ef: number): void {
    this.ef = ef;
  }

  /**
   * The k items with the highest inner product with `query`, skipping items where `exclude` is set.
   * Returns fewer than k when fewer items are eligible. `overfetch`: see HnswPartition.search.
   */
  search(query: ArrayLike<number>, k: number, exclude?: Uint8Array, overfetch?: number): Neighbours {
    const merge = this.merge(query, k);
    for (let unit = merge.next(); unit; unit = merge.next())
      merge.add(unit.search(query, merge.qNorm, merge.need, exclude, overfetch));
    this.partitionsSearched += merge.visited;
    return merge.result();
  }

  /**
   * The same answer for a caller that can wait: scan groups with a Gemm (prepareBatchedScans) score
   * the query together with the others asked in the same synchronous run (see GemmScan).
   */
  async searchBatched(
    query: ArrayLike<number>,
    k: number,
    exclude?: Uint8Array,
    overfetch?: number,
  ): Promise<Neighbours> {
    const merge = this.merge(query, k);
    for (let unit = merge.next(); unit; unit = merge.next())
      merge.add(
        unit instanceof ScanGroup
          ? await unit.searchBatched(query, merge.qNorm, merge.need, exclude, overfetch)
          : unit.search(query, merge.qNorm, merge.need, exclude, overfetch),
      );
    this.partitionsSearched += merge.visited;
    return merge.result();
  }

  /** Gives the wide scan groups their Gemm (serving; searchBatched uses it). */
  async prepareBatchedScans(): Promise<void> {
    for (const unit of this.wide) if (unit instanceof ScanGroup) await unit.prepareGemm();
  }

  /** The wide scan groups' Gemm runs and the queries they scored (the tests check the coalescing). */
  get batchedScans(): { runs: number; queries: number } {
    const total = { runs: 0, queries: 0 };
    for (const unit of this.wide) {
      const c = unit instanceof ScanGroup ? unit.gemmCounts : undefined;
      if (c) {
        total.runs += c.runs;
        total.queries += c.queries;
      }
    }
    return total;
  }

  /** One search's walk over the partitions: which to ask next, for how many, and the best k so far. */
  private merge(query: ArrayLike<number>, k: number): PartitionMerge {
    this.searches++;
    return new PartitionMerge(k >= WIDE_SEARCH_K ? this.wide : this.narrow, norm(query, 0, this.dim), k, this.ef);
  }
}

function norm(v: ArrayLike<number>, o: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += v[o + k] * v[o + k];
  return Math.sqrt(s);
}

/** Exact inner-product top-k by brute force: the reference HNSW recall is measured against. */
export function exactTopK(
  vectors: Float32Array,
  n: number,
  d: number,
  query: ArrayLike<number>,
  k: number,
  exclude?: Uint8Array,
  scratch = new Float32Array(n),
): Int32Array {
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
 * them is returned is noise, not a retrieval miss. Zero vectors are left out of the exact side too:
 * the index holds none by design, and in a catalogue of fewer than k items counting them would
 * report misses no efSearch can mend.
 */
export function hnswRecall(
  index: HnswIndex,
  vectors: Float32Array,
  n: number,
  d: number,
  queries: Float32Array,
  numQueries: number,
  k: number,
): number {
  let total = 0;
  const scratch = new Float32Array(n);
  const zero = new Uint8Array(n);
  for (let i = 0; i < n; i++) zero[i] = norm(vectors, i * d, d) === 0 ? 1 : 0;
  for (let q = 0; q < numQueries; q++) {
    const query = queries.subarray(q * d, q * d + d);
    const exact = exactTopK(vectors, n, d, query, k, zero, scratch);
    if (exact.length === 0) {
      total += 1;
      continue;
    }
    const kth = scratch[exact[exact.length - 1]];
    // Relative only: an absolute floor would count every item a hit when all scores are tiny.
    const tol = 1e-3 * Math.abs(scratch[exact[0]]);
    let hit = 0;
    for (const i of index.search(query, k).items) if (scratch[i] >= kth - tol) hit++;
    total += Math.min(hit, exact.length) / exact.length;
  }
  return numQueries > 0 ? total / numQueries : 1;
}
