import { describe, expect, it } from 'vitest';
import { exportRankerOnnx } from '../../src/train/onnx-export.js';
import { OnnxRanker } from '../../src/rank/onnx-ranker.js';
import { trainRanker } from '../../src/train/ranker.js';
import { Rng } from '../../src/util/rng.js';

describe('ranker export to ONNX', () => {
  it("gives the trainer's outputs within 1e-4 on raw (unstandardised) features, and learns the signal", async () => {
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
    const ranker = await trainRanker(
      { X, y, group, width, featureNames: names },
      { hidden: [16, 8], epochs: 6, batchSize: 128, learningRate: 0.01, l2: 0, seed: 1, holdout: 0.2 },
    );
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

    // Calls started together (a serving worker's batch) share one session run: each caller
    // still gets exactly its own rows' scores, in order, whatever the sizes.
    const sizes = [5, 1, 40, 17];
    const starts = sizes.map((_, j) => sizes.slice(0, j).reduce((a, b) => a + b, 0));
    const runsBefore = session.counts.runs;
    const together = await Promise.all(
      sizes.map((n, j) => session.score(ranker.checkRows.subarray(starts[j] * width), n)),
    );
    expect(session.counts.runs).toBe(runsBefore + 1);
    together.forEach((p, j) => {
      expect(p.length).toBe(sizes[j]);
      for (let r = 0; r < sizes[j]; r++) expect(Math.abs(p[r] - out[starts[j] + r])).toBeLessThanOrEqual(1e-6);
    });
    await expect(session.score(new Float32Array(width), 2)).rejects.toThrow(
      /2 rows of 7 features need 14 values; got 7/,
    );
    await session.release();
  });
});
