import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/rng.js';
import { selectTop } from '../../src/util/select-top.js';
import { topK } from '../../src/util/topk.js';

describe('selectTop', () => {
  it('returns what topK returns: the k best positions, best first, ties to the lower position', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 60; trial++) {
      const n = 2000 + rng.int(9000);
      const k = 1 + rng.int(400);
      // Continuous scores of both signs, some values repeated (ties) and a NaN now and then.
      const scores = Float32Array.from({ length: n }, () => (rng.next() < 0.05 ? rng.int(5) / 4 : rng.normal()));
      if (trial % 4 === 0) scores[rng.int(n)] = Number.NaN;
      const offset = trial % 3 === 0 ? 17 : 0;
      const buf = new Float32Array(n + offset + 5);
      buf.set(scores, offset);
      expect(Array.from(selectTop(buf, offset, n, k))).toEqual(Array.from(topK(scores, k)));
    }
  });

  it('handles skewed scores, where a strided sample misjudges the threshold, and k near or above n', () => {
    // Every 16th score (the ones a stride of 16 samples) is high: the sample's threshold passes
    // only a few dozen, fewer than k, and the answer must still be exact.
    const n = 4096;
    const rng = new Rng(5);
    const scores = Float32Array.from({ length: n }, (_, i) => (i % 16 === 0 ? 5 : 0) + rng.next());
    for (const k of [50, 200, 1500, n, n + 10])
      expect(Array.from(selectTop(scores, 0, n, k))).toEqual(Array.from(topK(scores, Math.min(k, n))));
    expect(selectTop(scores, 0, n, 0).length).toBe(0);
    // All tied (a zero query's scores): the first k positions, as topK gives them.
    expect(Array.from(selectTop(new Float32Array(5000), 0, 5000, 200))).toEqual(
      Array.from({ length: 200 }, (_, i) => i),
    );
  });
});
