import hnswlib from 'hnswlib-node';
import { dot } from '../util/linalg.js';
import { runAtOnce, runPaced, type Steps } from '../util/steps.js';
import { topK } from '../util/topk.js';
import { GemmScan, type GemmTop } from './scan-gemm.js';
import {
  type HnswPartition,
  normalise,
  type PartitionHits,
  type PartitionSearcher,
  searchNative,
} from './hnsw-partition.js';

type Scan = InstanceType<typeof hnswlib.BruteforceSearch>;

/**
 * Batches of fewer searches are scanned natively, one by one. onnxruntime-node runs a session on
 * the calling thread but from a setImmediate callback, so a run waits for the event loop's next
 * turn and pays a fixed cost (~30 µs for one query): on the bench bundle 2 searches together took
 * 117-131 µs a query against 146-156 alone, 4 took 97-108; and below that depth (moderate load)
 * the wait showed in the tail: alternating with the build before, scoring batches from 2 up made
 * the p99 at equal load 1.35× the naive server's (1.26× before).
 */
export const GEMM_MIN_BATCH = 4;

/** A search waiting for its batch (see ScanGroup.searchBatched). */
interface BatchedSearch {
  query: ArrayLike<number>;
  queryNorm: number;
  k: number;
  exclude?: Uint8Array;
  overfetch?: number;
  resolve: (hits: PartitionHits) => void;
  reject: (e: unknown) => void;
}

/**
 * Neighbouring norm partitions holding up to this many items together are answered by one exact
 * scan (hnswlib's native brute force) instead of one search each. What a search costs is mostly
 * handing its k results to JavaScript (~65 µs for 200, however few items were looked at), so one
 * scan of several partitions beats a search of each: on the 100k-item bench bundle, the three
 * partitions nearly every search visits (1,000, 1,800 and 5,385 items) take 115 µs as one scan for
 * 200 results against 75 + 108 µs scanned one by one and ~100 µs for the third's graph. A scan
 * costs ~5 ns per item on top, so a partition of more than a few thousand items that searches
 * seldom reach is cheaper left to its graph.
 */
export const SCAN_MAX_ITEMS = 10_000;

/**
 * A search for fewer results than this has little to hand over, and the scan's per-item cost
 * decides: it uses groups of up to NARROW_SCAN_MAX_ITEMS (measured on the bench bundle: top 10 in
 * 15 µs against 56 µs from the 8,185-item group; top 50 in 56 against 72 µs; top 200 in 237
 * against 142, a scratch run). 100 lies between the measured points; the crossover itself was not measured.
 */
export const WIDE_SEARCH_K = 100;
export const NARROW_SCAN_MAX_ITEMS = 2500;

/** Vectors copied into a scan between two awaits of a stepwise prepare (20-30 ms a step on the bench bundle). */
const PREPARE_STEP = 2000;

/**
 * One exact scan over neighbouring partitions (largest norms first, as searched). Its bound for the
 * search's pruning is its first partition's: no item in it can score more than |query| × that.
 * Vectors are stored divided by that norm and queries divided by theirs, for the same float32
 * reason as the partitions' (see HnswPartition).
 *
 * hnswlib's brute force drops eligible items when its filter rejects any of the first k it looks
 * at (it stops accepting anything worse than the best of those k), so filtered searches here are
 * scanned in JavaScript over a copy of the same vectors: the filter a shopper's request brings
 * (a category, a price range) skips most items, and skipped items cost nothing.
 */
export class ScanGroup implements PartitionSearcher {
  private scan: Scan | undefined;
  /** The scan's vectors (scaled) and labels, row by row, for filtered searches. */
  private vectors = new Float32Array(0);
  private labels = new Int32Array(0);
  /** The same vectors as an onnxruntime Gemm, for searchBatched (prepareGemm). */
  private gemm: GemmScan | undefined;
  /** Batched searches asked in this synchronous run, scored when it ends. */
  private waiting: BatchedSearch[] = [];
  private readonly q: number[];
  private readonly scale: number;

  constructor(
    readonly parts: readonly HnswPartition[],
    readonly dim: number,
  ) {
    this.q = new Array<number>(dim).fill(0);
    this.scale = this.maxNorm > 0 ? 1 / this.maxNorm : 1;
  }

  get maxNorm(): number {
    return this.parts[0].maxNorm;
  }

  get count(): number {
    let c = 0;
    for (const p of this.parts) c += p.count;
    return c;
  }

  /** An item was added to one of the partitions: the scan is remade by the next prepare or search. */
  invalidate(): void {
    this.scan = undefined;
    // Only model loading adds items, before any search is served: nothing can be waiting on it.
    void this.gemm?.close();
    this.gemm = undefined;
  }

  /** Gemm runs and the queries they scored, since the Gemm was made (none: undefined). */
  get gemmCounts(): { runs: number; queries: number } | undefined {
    return this.gemm?.counts;
  }

  /** Makes the scan and its Gemm (see searchBatched). */
  async prepareGemm(): Promise<void> {
    this.prepare();
    this.gemm ??= await GemmScan.create(this.vectors, this.labels.length, this.dim);
  }

  /** Makes the scan now rather than on the first search that needs it. */
  prepare(): Scan {
    return runAtOnce(this.build());
  }

  /** The same in steps of PREPARE_STEP vectors, awaiting `pace` between them (see HnswIndex.loadInSteps). */
  async prepareInSteps(pace: () => Promise<void>): Promise<void> {
    await runPaced(this.build(), pace);
  }

  private *build(): Steps<Scan> {
    if (this.scan) return this.scan;
    const count = this.count;
    const scan = new hnswlib.BruteforceSearch('ip', this.dim);
    scan.initIndex(Math.max(1, count));
    const vectors = new Float32Array(count * this.dim);
    const labels = new Int32Array(count);
    const v = new Array<number>(this.dim).fill(0);
    const row = new Array<number>(this.dim).fill(0);
    let r = 0;
    for (const part of this.parts)
      for (const label of part.labels()) {
        part.vector(label, v);
        for (let c = 0; c < this.dim; c++) vectors[r * this.dim + c] = row[c] = v[c] * this.scale;
        labels[r++] = label;
        scan.addPoint(row, label);
        if (r % PREPARE_STEP === 0) yield;
      }
    // Set together at the end: a search never sees a half-made scan.
    this.vectors = vectors;
    this.labels = labels;
    this.scan = scan;
    return scan;
  }

  /** The exact top k of the items `exclude` leaves, for the normalised query in `q`. */
  private filtered(k: number, exclude: Uint8Array, unscale: number): PartitionHits {
    const count = this.labels.length;
    const scores = new Float32Array(count);
    const skip = new Uint8Array(count);
    const d = this.dim;
    for (let r = 0; r < count; r++) {
      if (exclude[this.labels[r]]) {
        skip[r] = 1;
        continue;
      }
      scores[r] = dot(this.vectors, r * d, this.q, 0, d);
    }
    const items: number[] = [];
    const out: number[] = [];
    for (const r of topK(scores, k, skip)) {
      items.push(this.labels[r]);
      out.push(scores[r] * unscale);
    }
    return { items, scores: out };
  }

  /** The exact top k of the group's items, best first, skipping excluded ones (see searchNative). */
  search(
    query: ArrayLike<number>,
    queryNorm: number,
    k: number,
    exclude?: Uint8Array,
    overfetch?: number,
  ): PartitionHits {
    const scan = this.prepare();
    const unscale = 1 / (this.scale * normalise(query, queryNorm, this.q, this.dim));
    const search = {
      count: this.labels.length,
      unscale,
      run: (ask: number) => scan.searchKnn(this.q, ask),
      filtered: (ask: number, ex: Uint8Array) => this.filtered(ask, ex, unscale),
    };
    return searchNative(search, k, exclude, overfetch);
  }

  /**
   * As search, for a caller that can wait: the searches asked in the same synchronous run (a
   * serving worker starting a batch) are scored by the Gemm in one run (see GemmScan); fewer
   * than GEMM_MIN_BATCH are scanned natively when the run ends. A dense filter is scanned in
   * JavaScript, as by search.
   */
  searchBatched(
    query: ArrayLike<number>,
    queryNorm: number,
    k: number,
    exclude?: Uint8Array,
    overfetch?: number,
  ): Promise<PartitionHits> {
    if (!this.gemm || (exclude && overfetch === undefined))
      return Promise.resolve(this.search(query, queryNorm, k, exclude, overfetch));
    return new Promise((resolve, reject) => {
      const ask = { query, queryNorm, k, exclude, overfetch, resolve, reject };
      // The first search of a synchronous run schedules the batch; the rest of the run joins it.
      if (this.waiting.push(ask) === 1) queueMicrotask(() => void this.runBatch());
    });
  }

  private async runBatch(): Promise<void> {
    const asks = this.waiting;
    this.waiting = [];
    const gemm = this.gemm;
    if (asks.length < GEMM_MIN_BATCH || !gemm) {
      for (const a of asks) {
        try {
          a.resolve(this.search(a.query, a.queryNorm, a.k, a.exclude, a.overfetch));
        } catch (e) {
          a.reject(e);
        }
      }
      return;
    }
    const count = this.labels.length;
    const queries = new Float32Array(asks.length * this.dim);
    const unscale = asks.map(
      (a, b) => 1 / (this.scale * normalise(a.query, a.queryNorm, queries.subarray(b * this.dim), this.dim)),
    );
    const want = asks.map((a) => Math.min(count, a.k + (a.exclude ? (a.overfetch ?? 0) : 0)));
    try {
      const tops = await gemm.topAll(queries, asks.length, want);
      asks.forEach((a, b) => a.resolve(this.fromTop(a, tops[b], unscale[b])));
    } catch (e) {
      for (const a of asks) a.reject(e);
    }
  }

  /**
   * A Gemm answer as search's, through the same searchNative: the Gemm's top `want` stands in for
   * the native scan (as 1 − score, hnswlib's distance), so dropping sparse exclusions and the
   * filtered fallback are search's own.
   */
  private fromTop(a: BatchedSearch, top: GemmTop, unscale: number): PartitionHits {
    const search = {
      count: this.labels.length,
      unscale,
      run: (ask: number) => ({
        neighbors: Array.from(top.rows.subarray(0, ask), (r) => this.labels[r]),
        distances: Array.from(top.scores.subarray(0, ask), (v) => 1 - v),
      }),
      filtered: (ask: number, ex: Uint8Array) => {
        normalise(a.query, a.queryNorm, this.q, this.dim);
        return this.filtered(ask, ex, unscale);
      },
    };
    return searchNative(search, a.k, a.exclude, a.overfetch);
  }
}

/**
 * What answers a search, partition by partition in norm order: runs of neighbouring partitions of up
 * to `scanMaxItems` items together become one scan group, larger partitions are walked as graphs
 * (0: every partition walked, as tests and the benchmark compare).
 */
export function searchUnits(
  parts: readonly HnswPartition[],
  dim: number,
  scanMaxItems: number,
): (HnswPartition | ScanGroup)[] {
  const units: (HnswPartition | ScanGroup)[] = [];
  let run: HnswPartition[] = [];
  let size = 0;
  const close = (): void => {
    if (run.length > 0) units.push(new ScanGroup(run, dim));
    run = [];
    size = 0;
  };
  for (const part of parts) {
    if (part.count > scanMaxItems) {
      close();
      units.push(part);
      continue;
    }
    if (size + part.count > scanMaxItems) close();
    run.push(part);
    size += part.count;
  }
  close();
  return units;
}
