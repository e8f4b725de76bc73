import { choleskySolveInPlace } from '../util/linalg.js';

/** The learned factors plus what online fold-in needs (YᵀY and the hyper-parameters). */
export interface AlsModel {
  factors: number;
  regularization: number;
  alpha: number;
  numItems: number;
  numUsers: number;
  itemFactors: Float32Array;
  userFactors: Float32Array;
  /** YᵀY of the item factors, so a user vector is one d×d solve away. */
  itemGram: Float64Array;
}

/** ALS confidence of a user-item pair: c = 1 + alpha * log(1 + events on the pair). */
export const confidence = (alpha: number, count: number): number => 1 + alpha * Math.log1p(count);

/**
 * A user's vector from their history alone: the exact ALS solve against the fixed item factors.
 * This is how a new shopper with three events gets a vector without retraining.
 */
export function foldInUser(
  model: Pick<AlsModel, 'factors' | 'regularization' | 'alpha' | 'itemFactors' | 'itemGram'>,
  items: ArrayLike<number>,
  counts?: ArrayLike<number>,
): Float32Array {
  const d = model.factors;
  const A = Float64Array.from(model.itemGram);
  const b = new Float64Array(d);
  const Y = model.itemFactors;
  for (let a = 0; a < d; a++) A[a * d + a] += model.regularization;
  for (let j = 0; j < items.length; j++) {
    const c = confidence(model.alpha, counts ? counts[j] : 1);
    const o = items[j] * d;
    for (let a = 0; a < d; a++) {
      const ya = Y[o + a];
      b[a] += c * ya;
      const w = (c - 1) * ya;
      const ra = a * d;
      for (let k = 0; k < d; k++) A[ra + k] += w * Y[o + k];
    }
  }
  return Float32Array.from(choleskySolveInPlace(A, b, d));
}
