import type { UserItems } from '../data/interactions.js';
import { invertSpdInPlace } from '../util/linalg.js';
import type { EaseModel } from '../model/ease.js';

/** Invert an SPD matrix; the default is the JS Cholesky, a native one can be plugged in for large catalogues. */
export type SpdInverter = (A: Float64Array, n: number) => Promise<Float64Array> | Float64Array;

export async function trainEase(
  ui: UserItems,
  lambda: number,
  invert: SpdInverter = invertSpdInPlace,
): Promise<EaseModel> {
  const n = ui.numItems;
  const G = new Float64Array(n * n);
  for (let u = 0; u < ui.numUsers; u++) {
    const s = ui.indptr[u];
    const e = ui.indptr[u + 1];
    for (let p = s; p < e; p++) {
      const ri = ui.items[p] * n;
      for (let q = s; q < e; q++) G[ri + ui.items[q]] += 1;
    }
  }
  for (let i = 0; i < n; i++) G[i * n + i] += lambda;
  const P = await invert(G, n);
  const B = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j < n; j++) B[ri + j] = i === j ? 0 : -P[ri + j] / P[j * n + j];
  }
  return { numItems: n, lambda, B };
}
