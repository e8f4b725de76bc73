import type { TrainedRanker } from './ranker.js';
import { OnnxRanker, RANKER_INPUT, RANKER_OUTPUT } from '../rank/onnx-ranker.js';
import { encodeModel, floatInput, floatTensor, op, type NodeProto, type TensorProto } from '../backends/onnx-graph.js';

/**
 * The ranker as an ONNX graph over raw feature rows: (x - mean) * (1 / std) → Gemm → Relu → ... →
 * Gemm → Sigmoid. Standardisation stays an explicit Sub/Mul rather than being folded into the first
 * Gemm: folding multiplies weights by mean/std ratios in the hundreds for near-constant features,
 * and float32 cancellation then costs ~1e-4 of accuracy. Servers feed features exactly as the
 * feature module builds them.
 */
export function exportRankerOnnx(ranker: TrainedRanker): Uint8Array {
  const width = ranker.mean.length;
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  inits.push(
    floatTensor('mean', [width], ranker.mean),
    floatTensor(
      'inv_std',
      [width],
      Float32Array.from(ranker.std, (s) => 1 / s),
    ),
  );
  nodes.push(op('Sub', [RANKER_INPUT, 'mean'], ['centred']), op('Mul', ['centred', 'inv_std'], ['standardised']));
  let input = 'standardised';
  ranker.layers.forEach((layer, k) => {
    inits.push(
      floatTensor(`W${k}`, [layer.inDim, layer.outDim], layer.W),
      floatTensor(`b${k}`, [layer.outDim], layer.b),
    );
    const last = k === ranker.layers.length - 1;
    nodes.push(op('Gemm', [input, `W${k}`, `b${k}`], [`gemm${k}`]));
    const out = last ? RANKER_OUTPUT : `relu${k}`;
    nodes.push(op(last ? 'Sigmoid' : 'Relu', [`gemm${k}`], [out]));
    input = out;
  });
  return encodeModel({
    name: 'vitrine_ranker',
    nodes,
    initializers: inits,
    inputs: [floatInput(RANKER_INPUT, ['N', width])],
    outputs: [floatInput(RANKER_OUTPUT, ['N', 1])],
    doc: `features: ${ranker.featureNames.join(',')}`,
  });
}

/** Runs the exported graph on the trainer's check rows; returns the largest absolute difference. */
export async function checkExport(onnx: Uint8Array, ranker: TrainedRanker): Promise<number> {
  const session = await OnnxRanker.create(onnx, ranker.mean.length);
  const rows = ranker.checkOutputs.length;
  const out = await session.score(ranker.checkRows, rows);
  await session.release();
  let max = 0;
  for (let r = 0; r < rows; r++) max = Math.max(max, Math.abs(out[r] - ranker.checkOutputs[r]));
  return max;
}
