import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/rng.js';
import { topK } from '../../src/util/topk.js';

function bruteForce(scores: Float32Array, k: number, exclude?: Uint8Array): number[] {
  return Array.from(scores, (v, i) => [v, i] as const)
    .filter(([v, i]) => !Number.isNaN(v) && !(exclude && exclude[i]))
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, i]) => i);
}

describe('topK', () => {
  it('matches a full sort, with ties to the lower index and exclusions honoured', () => {
    const rng = new Rng(1);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + rng.int(500);
      // Few distinct values, so ties are common.
      const scores = Float32Array.from({ length: n }, () => rng.int(20));
      if (trial % 5 === 0) scores[rng.int(n)] = NaN;
      const exclude = Uint8Array.from({ length: n }, () => (rng.next() < 0.2 ? 1 : 0));
      const k = rng.int(60);
      expect(Array.from(topK(scores, k, exclude))).toEqual(bruteForce(scores, k, exclude));
      expect(Array.from(topK(scores, k))).toEqual(bruteForce(scores, k));
    }
  });

  it('selects within a window of a larger buffer (a row of a batch)', () => {
    const buf = Float32Array.from([9, 9, 9, 1, 5, 3, 9, 9]);
    expect(Array.from(topK(buf, 2, undefined, 3, 3))).toEqual([1, 2]);
  });
});
