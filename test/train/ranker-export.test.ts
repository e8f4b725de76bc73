import { describe, expect, it } from 'vitest';
import { exportRankerOnnx } from '../../src/rank/onnx-export.js';
import { OnnxRanker } from '../../src/rank/onnx-ranker.js';
import { trainRanker } from '../../src/train/ranker.js';
import { Rng } from '../../src/util/rng.js';

describe('ranker export to ONNX', () => {
  it('gives the trainer\'s outputs within 1e-4 on raw (unstandardised) features, and learns the signal', async () => {
    const rng = new Rng(9);
    const width = 7;
    const rows = 3000;
    const X = new Float32Array(rows * width);
    const y = new Float32Array(rows);
    const group = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      // Features on very different scales and offsets, so the folded standardisation matters.
      for (let c = 0; c < width; c++) X[r * width + c] = rng.normal() * (c + 1) * 10 + c * 100;
      const logit = (X[r * width] / 10) * 1.5 - ((X[r * width + 1] - 100) / 20) * 1.0;
      y[r] = rng.next() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
      group[r] = r % 100;
    }
    const names = Array.from({ length: width }, (_, c) => `f${c}`);
    const ranker = await trainRanker({ X, y, group, width, featureNames: names }, { hidden: [16, 8], epochs: 6, batchSize: 128, learningRate: 0.01, l2: 0, seed: 1, holdout: 0.2 });
    const session = await OnnxRanker.create(exportRankerOnnx(ranker), width);
    const out = await session.score(ranker.checkRows, ranker.checkOutputs.length);
    let maxDiff = 0;
    for (let r = 0; r < out.length; r++) maxDiff = Math.max(maxDiff, Math.abs(out[r] - ranker.checkOutputs[r]));
    expect(out.length).toBe(256);
    expect(maxDiff).toBeLessThanOrEqual(1e-4);

    // It learned the planted signal: probability rises with f0 and falls with f1.
    const probe = new Float32Array(2 * width);
    for (let c = 0; c < width; c++) probe[c] = probe[width + c] = c * 100;
    probe[0] = 20;
    probe[width] = -20;
    const [high, low] = await session.score(probe, 2);
    expect(high).toBeGreaterThan(low + 0.3);
    await session.release();
  });
});
