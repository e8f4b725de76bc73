import { itemsOf, type UserItems } from '../data/interactions.js';
import { evaluateRanking, type RankingMetrics } from '../eval/ranking.js';
import { Rng } from '../util/rng.js';
import { topK } from '../util/topk.js';
import { note } from '../util/progress.js';
import { trainAls, type AlsModel, type AlsParams } from './als.js';

export interface AlsTrial {
  params: Pick<AlsParams, 'alpha' | 'regularization' | 'factors'>;
  validation: RankingMetrics;
  seconds: number;
}

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

/**
 * Picks ALS hyper-parameters by NDCG@10 on the validation slice (models fit on train minus
 * validation), scoring a sample of validation users to keep tuning fast on large data.
 */
export function tuneAls(fit: UserItems, validation: UserItems, base: AlsParams, grid: Pick<AlsParams, 'alpha' | 'regularization'>[], sampleUsers: number, seed: number): { best: AlsModel; bestParams: AlsParams; trials: AlsTrial[] } {
  const rng = new Rng(seed);
  let users: number[] = [];
  for (let u = 0; u < validation.numUsers; u++) if (itemsOf(validation, u).length > 0) users.push(u);
  if (users.length > sampleUsers) users = rng.shuffle(users).slice(0, sampleUsers).sort((a, b) => a - b);
  const trials: AlsTrial[] = [];
  let best: { model: AlsModel; params: AlsParams; ndcg: number } | undefined;
  for (const g of grid) {
    const params = { ...base, ...g };
    const t0 = performance.now();
    const model = trainAls(fit, params, `als alpha=${params.alpha} lambda=${params.regularization}`);
    const validationMetrics = evaluateRanking(embeddingRecommender(model), fit, validation, users);
    const seconds = (performance.now() - t0) / 1000;
    trials.push({ params: { alpha: params.alpha, regularization: params.regularization, factors: params.factors }, validation: validationMetrics, seconds });
    note(`  als alpha=${params.alpha} lambda=${params.regularization}: validation NDCG@10 ${validationMetrics['ndcg@10'].toFixed(4)} (${seconds.toFixed(1)}s)`);
    if (!best || validationMetrics['ndcg@10'] > best.ndcg) best = { model, params, ndcg: validationMetrics['ndcg@10'] };
  }
  if (!best) throw new Error('ALS tuning needs at least one grid point');
  return { best: best.model, bestParams: best.params, trials };
}
