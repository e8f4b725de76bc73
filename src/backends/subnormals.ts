import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * Subnormal float32 weights (0 < |w| < 2^-126 ≈ 1.18e-38) are zero for any practical purpose: against
 * inputs of ordinary size their products vanish in every sum. But on Intel CPUs each multiply with a
 * subnormal operand takes a microcode assist (the AMD host of earlier figures showed no such cost),
 * and the ranker's training leaves some: the bench bundle's ranker had 347 of its 8,192 second-layer
 * weights subnormal, and that layer's Gemm took 20× the first's time for 1.6× its multiplies; the
 * whole ranker ran 11× slower (2026-12-07, an Intel Xeon VM, the ranker suite: 975 → 87 µs for 200
 * rows, identical scores). onnxruntime's `set_denormal_as_zero` does not help here: it sets its own
 * pool threads, and a 1-thread session runs on the thread that calls it.
 */
const SMALLEST_NORMAL = 2 ** -126;

/** Sets the subnormal values of `a` to zero, in place; returns how many there were. */
export function zeroSubnormals(a: Float32Array): number {
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v !== 0 && v > -SMALLEST_NORMAL && v < SMALLEST_NORMAL) {
      a[i] = 0;
      count++;
    }
  }
  return count;
}

/**
 * An ONNX model with the subnormal values of its float initializers set to zero, and how many there
 * were. The bytes come back unchanged when there are none.
 */
export function withoutSubnormals(model: Uint8Array): { model: Uint8Array; zeroed: number } {
  const decoded = onnx.ModelProto.decode(model);
  let zeroed = 0;
  for (const t of decoded.graph?.initializer ?? []) {
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT) continue;
    if (t.rawData && t.rawData.length > 0) {
      // A copy (new Uint8Array copies; a Buffer's slice would not): the decoded bytes are a view
      // into `model` at any alignment.
      const values = new Float32Array(new Uint8Array(t.rawData).buffer, 0, t.rawData.length >> 2);
      const n = zeroSubnormals(values);
      if (n > 0) t.rawData = new Uint8Array(values.buffer);
      zeroed += n;
    } else if (t.floatData && t.floatData.length > 0) {
      const values = Float32Array.from(t.floatData);
      const n = zeroSubnormals(values);
      if (n > 0) t.floatData = Array.from(values);
      zeroed += n;
    }
  }
  return zeroed === 0 ? { model, zeroed } : { model: onnx.ModelProto.encode(decoded).finish(), zeroed };
}
