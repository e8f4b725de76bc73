import type { ItemNeighbours } from '../model/knn.js';
import { topK } from '../util/topk.js';

/**
 * An item-by-item CSR of each item's strongest links (item-kNN's neighbours, the followers), built
 * row by row from a dense scratch row whose nonzero entries the caller lists in `touched`.
 */
export class StrongestRows {
  private readonly indptr: Int32Array;
  private readonly neighbours: number[] = [];
  private readonly weights: number[] = [];
  private readonly exclude: Uint8Array;
  private rows = 0;

  constructor(
    private readonly numItems: number,
    private readonly k: number,
  ) {
    this.indptr = new Int32Array(numItems + 1);
    this.exclude = new Uint8Array(numItems);
  }

  /** Row `i` (rows come in order): the `k` largest positive values of `row` among `touched`, never i itself, each times `scale`. */
  add(i: number, row: Float32Array, touched: readonly number[], scale = 1): void {
    if (i !== this.rows) throw new RangeError(`row ${i} added after row ${this.rows - 1}`);
    this.exclude[i] = 1;
    const best =
      touched.length <= this.k
        ? Int32Array.from(touched).sort((a, b) => row[b] - row[a] || a - b)
        : topK(row, this.k, this.exclude);
    this.exclude[i] = 0;
    for (const j of best) {
      if (row[j] <= 0) break;
      this.neighbours.push(j);
      this.weights.push(row[j] * scale);
    }
    this.indptr[++this.rows] = this.neighbours.length;
  }

  done(): ItemNeighbours {
    if (this.rows !== this.numItems) throw new RangeError(`${this.rows} of ${this.numItems} rows added`);
    return {
      numItems: this.numItems,
      k: this.k,
      indptr: this.indptr,
      neighbours: Int32Array.from(this.neighbours),
      similarity: Float32Array.from(this.weights),
    };
  }
}
