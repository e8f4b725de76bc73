import { float32Tensor, int64Tensor, OnnxSession } from '../../backends/onnx.js';
import { encodeModel, floatInput, floatTensor, op, typedInput } from '../../backends/onnx-graph.js';
import { filterRow, type ScoreKernel, type TopKBlock } from './kernel.js';

/**
 * onnxruntime MatMul fused with TopK in one graph, so only users × k' values come back to JS, not
 * users × items scores. k' = k + the most excluded items of any user in the block; exclusions are
 * dropped afterwards, which keeps the result exact.
 */
export class OnnxTopKKernel implements ScoreKernel {
  readonly name = 'onnx' as const;
  private constructor(
    private readonly session: OnnxSession,
    private readonly numItems: number,
  ) {}

  static async create(itemFactors: Float32Array, numItems: number, d: number, threads = 1): Promise<OnnxTopKKernel> {
    const itemsT = new Float32Array(d * numItems);
    for (let i = 0; i < numItems; i++) for (let c = 0; c < d; c++) itemsT[c * numItems + i] = itemFactors[i * d + c];
    const model = encodeModel({
      name: 'batch_topk',
      nodes: [
        op('MatMul', ['users', 'items_t'], ['scores']),
        op('TopK', ['scores', 'k'], ['values', 'indices'], '', [
          { name: 'axis', i: -1 },
          { name: 'largest', i: 1 },
          { name: 'sorted', i: 1 },
        ]),
      ],
      initializers: [floatTensor('items_t', [d, numItems], itemsT)],
      inputs: [floatInput('users', ['B', d]), typedInput('k', [1], 'int64')],
      outputs: [floatInput('values', ['B', 'K']), typedInput('indices', ['B', 'K'], 'int64')],
    });
    const session = await OnnxSession.open(model, { threads });
    return new OnnxTopKKernel(session, numItems);
  }

  async topK(
    users: Float32Array,
    count: number,
    k: number,
    exclude: readonly (ArrayLike<number> | undefined)[],
  ): Promise<TopKBlock> {
    const d = users.length / count;
    let extra = 0;
    for (let u = 0; u < count; u++) extra = Math.max(extra, exclude[u]?.length ?? 0);
    // TopK refuses a k above the axis length; rows then come back padded by filterRow.
    const kk = Math.min(k + extra, this.numItems);
    const out = await this.session.run({
      users: float32Tensor(users.subarray(0, count * d), [count, d]),
      k: int64Tensor([kk], [1]),
    });
    const values = out.values.data as Float32Array;
    const indices = out.indices.data as BigInt64Array;
    const width = out.values.dims[1];
    const idx = Int32Array.from(indices, (v) => Number(v));
    const items = new Int32Array(count * k);
    const scores = new Float32Array(count * k);
    for (let u = 0; u < count; u++) {
      const ex = exclude[u];
      filterRow(
        idx,
        values,
        u * width,
        width,
        k,
        ex && ex.length > 0 ? new Set(Array.from(ex)) : undefined,
        items,
        scores,
        u * k,
      );
    }
    return { items, scores };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
