import { topK } from '../util/topk.js';
import type { AlsModel } from './als.js';

/** Exact embedding-only ranking (user · item over the whole catalogue) for a set of users. */
export function embeddingRecommender(model: Pick<AlsModel, 'factors' | 'itemFactors' | 'userFactors' | 'numItems'>) {
  const scores = new Float32Array(model.numItems);
  const d = model.factors;
  return (u: number, k: number, exclude: Uint8Array): Int32Array => {
    const uo = u * d;
    for (let i = 0; i < model.numItems; i++) {
      let s = 0;
      const io = i * d;
      for (let f = 0; f < d; f++) s += model.userFactors[uo + f] * model.itemFactors[io + f];
      scores[i] = s;
    }
    return topK(scores, k, exclude);
  };
}
