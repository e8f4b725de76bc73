import { float32Tensor, OnnxSession } from '../backends/onnx.js';
import { encodeModel, floatInput, floatTensor, op } from '../backends/onnx-graph.js';
import { selectTop } from '../util/select-top.js';

/** A query's best rows of the scanned matrix, best first, and their inner products with it. */
export interface GemmTop {
  rows: Int32Array;
  scores: Float32Array;
}

/**
 * A scan group's vectors as one onnxruntime Gemm (queries × vectorsᵀ), for a batch of searches.
 * hnswlib's scan hands each of its k results to JavaScript one N-API call at a time (~0.33 µs
 * each); here a batch's scores come back as one array and each query's best k are selected in
 * JavaScript. On the bench bundle's 8,185-item group the Gemm takes ~10 µs a query for 4 to 8
 * queries (~37 µs for one, when a run's fixed cost is not worth it: see ScanGroup.searchBatched).
 */
export class GemmScan {
  /** Session runs and the queries they scored (queries / runs: how much coalescing happens). */
  readonly counts = { runs: 0, queries: 0 };

  private constructor(
    private readonly session: OnnxSession,
    readonly count: number,
    readonly dim: number,
  ) {}

  /** `vectors`: count × dim, row by row (the group's scaled vectors). */
  static async create(vectors: Float32Array, count: number, dim: number): Promise<GemmScan> {
    const model = encodeModel({
      name: 'scan_group',
      nodes: [op('Gemm', ['queries', 'vectors'], ['scores'], '', [{ name: 'transB', i: 1 }])],
      initializers: [floatTensor('vectors', [count, dim], vectors.subarray(0, count * dim))],
      inputs: [floatInput('queries', ['B', dim])],
      outputs: [floatInput('scores', ['B', count])],
    });
    return new GemmScan(await OnnxSession.open(model, { threads: 1 }), count, dim);
  }

  /** For each of `count` queries (dim values each, row by row), the k[b] rows with the largest inner product. */
  async topAll(queries: Float32Array, count: number, k: readonly number[]): Promise<GemmTop[]> {
    this.counts.runs++;
    this.counts.queries += count;
    const out = await this.session.run({
      queries: float32Tensor(queries.subarray(0, count * this.dim), [count, this.dim]),
    });
    const scores = out.scores.data as Float32Array;
    return Array.from({ length: count }, (_, b) => {
      const rows = selectTop(scores, b * this.count, this.count, k[b]);
      return { rows, scores: Float32Array.from(rows, (r) => scores[b * this.count + r]) };
    });
  }

  close(): Promise<void> {
    return this.session.release();
  }
}
