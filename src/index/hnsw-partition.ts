import hnswlib from 'hnswlib-node';

type Native = InstanceType<typeof hnswlib.HierarchicalNSW>;
type Scan = InstanceType<typeof hnswlib.BruteforceSearch>;

/**
 * Partitions up to this size are searched by an exact scan (hnswlib's native brute force over the
 * same stored vectors) rather than their graph. A search asking for k of a few thousand items
 * visits most of the graph anyway, and the scan is both exact and cheaper: on the 100k-item bench
 * bundle's 1,000- and 1,800-item partitions (visited by nearly every search, 200 results asked)
 * 83 and 91 µs against the graph's 116 and 117 µs; at 5,385 items the graph wins, 101 against 112 µs.
 */
export const SCAN_MAX_ITEMS = 2500;

export interface GraphParams {
  M: number;
  efConstruction: number;
  seed: number;
}

export interface PartitionHits {
  items: number[];
  /** Inner products with the query, best first. */
  scores: number[];
}

/**
 * One hnswlib graph over items whose norms lie in a narrow range, below `maxNorm`. Each stored
 * vector gets one extra coordinate, sqrt(maxNorm² − |v|²), so all have the same norm and queries
 * get a 0 there: inner products are unchanged, but "largest inner product" becomes "nearest
 * neighbour" (Bachrach et al. 2014), a geometry the graph can index. Over a narrow norm range the
 * extra coordinate stays small next to the item's own coordinates, so the graph keeps their shape.
 *
 * Items are stored divided by maxNorm and queries divided by their norm. hnswlib measures
 * 1 − dot in float32, which cannot tell dot products below ~1e-7 apart: with tiny embeddings
 * (strong regularisation on sparse data) both the graph and the ranking degraded to item-id order.
 * A positive scale changes no comparison, so on ordinary embeddings the answers are the same.
 */
export class HnswPartition {
  private readonly row: number[];
  private readonly q: number[];
  private ef = 0;
  /** The exact scan of a small partition, made from the graph's stored vectors (see prepare). */
  private scan: Scan | undefined;
  /** Up to this many items the partition is scanned, not walked (SCAN_MAX_ITEMS; tests force either). */
  scanMaxItems = SCAN_MAX_ITEMS;
  /** Stored vectors are v · scale, so the partition's longest has norm 1 (0 for an empty one). */
  private readonly scale: number;

  private constructor(
    private readonly native: Native,
    readonly dim: number,
    readonly maxNorm: number,
  ) {
    this.row = new Array<number>(dim + 1).fill(0);
    this.q = new Array<number>(dim + 1).fill(0);
    this.scale = maxNorm > 0 ? 1 / maxNorm : 1;
  }

  static create(dim: number, maxNorm: number, capacity: number, g: GraphParams): HnswPartition {
    const native = new hnswlib.HierarchicalNSW('ip', dim + 1);
    native.initIndex({
      maxElements: Math.max(1, capacity),
      m: g.M,
      efConstruction: g.efConstruction,
      randomSeed: g.seed,
    });
    return new HnswPartition(native, dim, maxNorm);
  }

  static load(path: string, dim: number, maxNorm: number): HnswPartition {
    const native = new hnswlib.HierarchicalNSW('ip', dim + 1);
    native.readIndexSync(path);
    return new HnswPartition(native, dim, maxNorm);
  }

  /** A vector longer than maxNorm is stored with a 0 extra coordinate (see HnswIndex.add for where that is safe). */
  add(vector: ArrayLike<number>, label: number): void {
    let sq = 0;
    for (let k = 0; k < this.dim; k++) {
      this.row[k] = vector[k] * this.scale;
      sq += this.row[k] * this.row[k];
    }
    const bound = this.maxNorm * this.scale;
    this.row[this.dim] = Math.sqrt(Math.max(0, bound * bound - sq));
    if (this.native.getCurrentCount() >= this.native.getMaxElements())
      this.native.resizeIndex(Math.ceil(this.native.getMaxElements() * 1.25) + 16);
    this.native.addPoint(this.row, label);
    this.scan = undefined;
  }

  /** Makes a small partition's scan now rather than on the first search that needs it. */
  prepare(): void {
    this.searcher();
  }

  /** What answers searches: the exact scan for a small partition, the graph otherwise. */
  private searcher(): Native | Scan {
    const count = this.count;
    if (count > this.scanMaxItems) return this.native;
    if (!this.scan) {
      const scan = new hnswlib.BruteforceSearch('ip', this.dim + 1);
      scan.initIndex(Math.max(1, count));
      for (const label of this.native.getIdsList()) scan.addPoint(this.native.getPoint(label), label);
      this.scan = scan;
    }
    return this.scan;
  }

  get count(): number {
    return this.native.getCurrentCount();
  }

  setEf(ef: number): void {
    if (ef === this.ef) return;
    this.native.setEf(ef);
    this.ef = ef;
  }

  write(path: string): void {
    this.native.writeIndexSync(path);
  }

  /**
   * Up to k items with the highest inner product, skipping excluded ones. With `overfetch`, the
   * search first runs unfiltered for k + overfetch items and drops excluded ones afterwards:
   * hnswlib's filter calls back into JavaScript for every visited node (a quarter of the search
   * time), which is wasted when few items are excluded. If that leaves fewer than k, it falls back
   * to the filtered search. `queryNorm` is |query|, which the caller has already computed.
   */
  search(
    query: ArrayLike<number>,
    queryNorm: number,
    k: number,
    exclude?: Uint8Array,
    overfetch?: number,
  ): PartitionHits {
    const count = this.count;
    if (exclude && overfetch !== undefined) {
      const wide = this.search(query, queryNorm, k + overfetch);
      const out: PartitionHits = { items: [], scores: [] };
      for (let r = 0; r < wide.items.length && out.items.length < k; r++) {
        if (exclude[wide.items[r]]) continue;
        out.items.push(wide.items[r]);
        out.scores.push(wide.scores[r]);
      }
      // Enough left, or the unfiltered search already saw every item: the answer is exact.
      if (out.items.length >= k || wide.items.length >= count) return out;
    }
    const want = Math.min(k, count);
    if (want <= 0) return { items: [], scores: [] };
    const t = queryNorm > 0 ? 1 / queryNorm : 1;
    for (let c = 0; c < this.dim; c++) this.q[c] = query[c] * t;
    const filter = exclude ? (label: number): boolean => exclude[label] === 0 : undefined;
    const searcher = this.searcher();
    let res: { neighbors: number[]; distances: number[] } = { neighbors: [], distances: [] };
    // hnswlib throws when fewer than the asked-for number of items pass the filter; ask for fewer
    // until the answer fits (only very restrictive filters get here).
    for (let ask = want; ask > 0; ask = Math.floor(ask / 2)) {
      try {
        res = searcher.searchKnn(this.q, ask, filter);
        break;
      } catch {
        continue;
      }
    }
    // hnswlib returns nearest first, by distance 1 − dot (the query's extra coordinate is 0); the
    // scores go back to the caller's units.
    const unscale = 1 / (this.scale * t);
    return { items: res.neighbors, scores: res.distances.map((dist) => (1 - dist) * unscale) };
  }
}
