import type { UserItems } from '../data/interactions.js';

/** EASE (Steck 2019): a dense item-item weight matrix B with zero diagonal; scores are x_u B. */
export interface EaseModel {
  numItems: number;
  lambda: number;
  /** Row-major numItems × numItems. */
  B: Float32Array;
}

/** out = sum over history items of B's rows. */
export function easeScores(model: EaseModel, history: ArrayLike<number>, out: Float32Array): Float32Array {
  out.fill(0);
  const n = model.numItems;
  for (let h = 0; h < history.length; h++) {
    const o = history[h] * n;
    for (let j = 0; j < n; j++) out[j] += model.B[o + j];
  }
  return out;
}

export interface FittedEase {
  model: EaseModel;
  chosenBy: string;
  /** Validation NDCG@10 per λ tried, when tuned. */
  validation?: Record<string, number>;
}

/**
 * Fits EASE with λ given, or (`auto`) chosen on `validation` with models fit on `fit`. Training
 * provides it (train/ease-tuning); evaluation receives it, so that evaluation never imports training.
 */
export type EaseFitter = (
  lambda: number | 'auto',
  split: { train: UserItems; fit: UserItems; validation: UserItems },
) => Promise<FittedEase>;
