import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { encodeModel, floatInput, op } from '../../src/backends/onnx-graph.js';
import { withoutSubnormals, zeroSubnormals } from '../../src/backends/subnormals.js';
import { RANKER_INPUT, RANKER_OUTPUT, OnnxRanker } from '../../src/rank/onnx-ranker.js';
import { exportRankerOnnx } from '../../src/train/onnx-export.js';
import type { TrainedRanker } from '../../src/train/ranker.js';

const { onnx } = onnxProto;
const SMALLEST_NORMAL = 2 ** -126;
const LARGEST_SUBNORMAL = SMALLEST_NORMAL - 2 ** -149;

function isSubnormal(v: number): boolean {
  return v !== 0 && Math.abs(v) < SMALLEST_NORMAL;
}

/** Every float initializer of an ONNX model, by name. */
function initializers(model: Uint8Array): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const t of onnx.ModelProto.decode(model).graph?.initializer ?? []) {
    const raw = new Uint8Array(t.rawData!);
    out.set(t.name!, new Float32Array(raw.buffer, 0, raw.length >> 2));
  }
  return out;
}

/**
 * probability = sigmoid(features × w), one feature, its weight written as raw bytes (as an older build
 * wrote its weights, subnormals kept; floatTensor would zero them).
 */
function tinyRanker(w: number): Uint8Array {
  const weight = onnx.TensorProto.create({
    name: 'W',
    dims: [1, 1],
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(Float32Array.of(w).buffer),
  });
  return encodeModel({
    name: 'tiny',
    nodes: [op('MatMul', [RANKER_INPUT, 'W'], ['logit']), op('Sigmoid', ['logit'], [RANKER_OUTPUT])],
    initializers: [weight],
    inputs: [floatInput(RANKER_INPUT, ['N', 1])],
    outputs: [floatInput(RANKER_OUTPUT, ['N', 1])],
  });
}

describe('subnormal weights', () => {
  it('zeroes exactly the subnormal values, of either sign, and counts them', () => {
    const a = Float32Array.of(
      2 ** -149,
      -(2 ** -149),
      LARGEST_SUBNORMAL,
      -LARGEST_SUBNORMAL,
      1e-39,
      SMALLEST_NORMAL,
      -SMALLEST_NORMAL,
      0,
      -0,
      0.5,
      -3e38,
      Number.NaN,
      Number.POSITIVE_INFINITY,
    );
    const before = Float32Array.from(a);
    expect(zeroSubnormals(a)).toBe(5);
    expect(Array.from(a.subarray(0, 5))).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(a.subarray(5))).toEqual(Array.from(before.subarray(5)));
  });

  it('the ranker export writes none, and keeps every other weight bit for bit', () => {
    const layer = (inDim: number, outDim: number, seed: number) => ({
      inDim,
      outDim,
      W: Float32Array.from({ length: inDim * outDim }, (_, i) =>
        i % 7 === 0 ? 1e-39 * (i % 2 ? 1 : -1) : Math.sin(i + seed),
      ),
      b: Float32Array.from({ length: outDim }, (_, i) => Math.cos(i + seed)),
    });
    const ranker = {
      featureNames: ['a', 'b', 'c'],
      mean: Float32Array.of(0, 1, 2),
      std: Float32Array.of(1, 2, 3),
      layers: [layer(3, 8, 1), layer(8, 4, 2), layer(4, 1, 3)],
    } as Pick<TrainedRanker, 'featureNames' | 'mean' | 'std' | 'layers'> as TrainedRanker;
    const written = initializers(exportRankerOnnx(ranker));
    ranker.layers.forEach((l, k) => {
      const W = written.get(`W${k}`)!;
      expect(W.length).toBe(l.W.length);
      let kept = 0;
      for (let i = 0; i < W.length; i++) {
        expect(isSubnormal(W[i])).toBe(false);
        if (isSubnormal(l.W[i])) expect(W[i]).toBe(0);
        else {
          expect(W[i]).toBe(l.W[i]);
          kept++;
        }
      }
      expect(kept).toBeGreaterThan(0);
    });
  });

  it("a bundle's network written with subnormal weights scores as if they were zero", async () => {
    // 1e-39 × 1e38 = 0.1: kept, the weight would move the score to sigmoid(0.1) ≈ 0.525.
    const old = tinyRanker(1e-39);
    expect(withoutSubnormals(old).zeroed).toBe(1);
    const ranker = await OnnxRanker.create(old, 1);
    const [p] = await ranker.score(Float32Array.of(1e38), 1);
    expect(p).toBe(0.5);
    await ranker.release();

    // A normal weight is left alone (the same bytes come back), and counts.
    const normal = tinyRanker(1e-30);
    expect(withoutSubnormals(normal)).toEqual({ model: normal, zeroed: 0 });
    const kept = await OnnxRanker.create(normal, 1);
    const [q] = await kept.score(Float32Array.of(1e29), 1);
    expect(q).toBeCloseTo(1 / (1 + Math.exp(-0.1)), 5);
    await kept.release();
  });
});
