import { describe, expect, it } from 'vitest';
import { calibration } from '../../src/metrics/calibration.js';
import { Rng } from '../../src/util/rng.js';

describe('the reliability curve', () => {
  it('shows calibrated probabilities on the diagonal, and overconfident ones above it', () => {
    const rng = new Rng(3);
    const n = 50_000;
    const prob = Float32Array.from({ length: n }, () => rng.next());
    const honest = Float32Array.from(prob, (p) => (rng.next() < p ? 1 : 0));
    const c = calibration(prob, honest);
    expect(c.bins).toHaveLength(10);
    for (const b of c.bins) expect(Math.abs(b.observedRate - b.meanPredicted)).toBeLessThan(0.03);
    expect(c.ece).toBeLessThan(0.02);
    // Outcomes at half the predicted rate: every bin observes less than it predicts.
    const over = Float32Array.from(prob, (p) => (rng.next() < p / 2 ? 1 : 0));
    const o = calibration(prob, over);
    for (const b of o.bins) expect(b.observedRate).toBeLessThan(b.meanPredicted);
    expect(o.ece).toBeGreaterThan(0.2);
    expect(calibration([], []).bins).toEqual([]);
  });
});
