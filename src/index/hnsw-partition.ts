import hnswlib from 'hnswlib-node';

type Native = InstanceType<typeof hnswlib.HierarchicalNSW>;
type Knn = ReturnType<Native['searchKnn']>;
type Filter = (label: number) => boolean;

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

/** What the index asks of a partition's graph and of a scan group alike. */
export interface PartitionSearcher {
  /**
   * Its items' norm bound, by which searches prune (the first partition, which every search
   * visits, may hold longer items added later).
   */
  readonly maxNorm: number;
  readonly count: number;
  search(
    query: ArrayLike<number>,
    queryNorm: number,
    k: number,
    exclude?: Uint8Array,
    overfetch?: number,
  ): PartitionHits;
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
export class HnswPartition implements PartitionSearcher {
  private readonly row: number[];
  private readonly q: number[];
  private ef = 0;
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

  /** The same, read on libuv's thread pool: a thread that serves meanwhile is not held up. */
  static async loadInBackground(path: string, dim: number, maxNorm: number): Promise<HnswPartition> {
    const native = new hnswlib.HierarchicalNSW('ip', dim + 1);
    await native.readIndex(path);
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
  }

  /** The stored items' labels (an exact scan is made from these and their vectors). */
  labels(): number[] {
    return this.native.getIdsList();
  }

  /** A stored item's vector in the caller's units, written into `out`. */
  vector(label: number, out: number[]): number[] {
    const point = this.native.getPoint(label);
    for (let c = 0; c < this.dim; c++) out[c] = point[c] / this.scale;
    return out;
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

  /** Up to k items with the highest inner product, skipping excluded ones (see searchNative). */
  search(
    query: ArrayLike<number>,
    queryNorm: number,
    k: number,
    exclude?: Uint8Array,
    overfetch?: number,
  ): PartitionHits {
    const t = normalise(query, queryNorm, this.q, this.dim);
    // The query's extra coordinate stays 0, so 1 − distance is the scaled inner product.
    const search = {
      count: this.count,
      unscale: 1 / (this.scale * t),
      run: this.native.searchKnn.bind(this.native, this.q),
    };
    return searchNative(search, k, exclude, overfetch);
  }
}

/** Writes query / |query| into the first `dim` places of `into`; returns 1 / |query| (1 for a zero query). */
export function normalise(
  query: ArrayLike<number>,
  queryNorm: number,
  into: number[] | Float32Array,
  dim: number,
): number {
  const t = queryNorm > 0 ? 1 / queryNorm : 1;
  for (let c = 0; c < dim; c++) into[c] = query[c] * t;
  return t;
}

/** One query against one hnswlib index, as searchNative runs it. */
export interface NativeSearch {
  /** Items in the index. */
  count: number;
  /** Turns 1 − distance back into the caller's units. */
  unscale: number;
  run(k: number, filter?: Filter): Knn;
  /** Answers a filtered search where hnswlib's own filter cannot be trusted (its brute force: see ScanGroup). */
  filtered?(k: number, exclude: Uint8Array): PartitionHits;
}

/**
 * Up to k items with the highest inner product from one hnswlib index (a graph or a scan), best
 * first, skipping excluded ones. With `overfetch`, the search first runs unfiltered for
 * k + overfetch items and drops excluded ones afterwards: hnswlib's filter calls back into
 * JavaScript for every visited node (a quarter of a graph search's time), which is wasted when few
 * items are excluded. If that leaves fewer than k, it falls back to the filtered search.
 */
export function searchNative(s: NativeSearch, k: number, exclude?: Uint8Array, overfetch?: number): PartitionHits {
  if (exclude && overfetch !== undefined) {
    const wide = searchNative(s, k + overfetch);
    const out: PartitionHits = { items: [], scores: [] };
    for (let r = 0; r < wide.items.length && out.items.length < k; r++) {
      if (exclude[wide.items[r]]) continue;
      out.items.push(wide.items[r]);
      out.scores.push(wide.scores[r]);
    }
    // Enough left, or the unfiltered search already saw every item: the answer is exact.
    if (out.items.length >= k || wide.items.length >= s.count) return out;
  }
  const want = Math.min(k, s.count);
  if (want <= 0) return { items: [], scores: [] };
  if (exclude && s.filtered) return s.filtered(want, exclude);
  const filter = exclude ? (label: number): boolean => exclude[label] === 0 : undefined;
  let res: Knn = { neighbors: [], distances: [] };
  // hnswlib throws when fewer than the asked-for number of items pass the filter; ask for fewer
  // until the answer fits (only very restrictive filters get here).
  for (let ask = want; ask > 0; ask = Math.floor(ask / 2)) {
    try {
      res = s.run(ask, filter);
      break;
    } catch {
      continue;
    }
  }
  return { items: res.neighbors, scores: res.distances.map((dist) => (1 - dist) * s.unscale) };
}
