import { type UserItems, usersWithItems } from '../data/interactions.js';
import { evaluateRanking, type RankingMetrics } from '../metrics/ranking.js';
import { Rng } from '../util/rng.js';
import { note } from '../util/progress.js';
import { embeddingRecommender } from '../model/embeddings.js';
import { trainAls, type AlsParams } from './als.js';
import { type AlsModel } from '../model/als.js';
import { trainBpr, type BprParams } from './bpr.js';

/** One way to learn the collaborative embeddings; every kind yields the same model shape (fold-in included). */
export type EmbeddingConfig = { method: 'als'; params: AlsParams } | { method: 'bpr'; params: BprParams };

export const EMBEDDING_METHODS = {
  als: 'implicit ALS (conjugate gradient)',
  bpr: 'BPR (SGD, uniform negatives) with least-squares user fold-in',
} as const;

export function trainEmbeddings(ui: UserItems, c: EmbeddingConfig, label = describeEmbedding(c)): AlsModel {
  return c.method === 'als' ? trainAls(ui, c.params, label) : trainBpr(ui, c.params, label);
}

/** The hyper-parameters that tell grid points apart, for logs and the manifest. */
export function describeEmbedding(c: EmbeddingConfig): string {
  const p = c.params;
  return c.method === 'als'
    ? `als alpha=${p.alpha} lambda=${p.regularization}`
    : `bpr lr=${c.params.learningRate} l2=${c.params.l2} epochs=${c.params.epochs} fold-in alpha=${p.alpha} lambda=${p.regularization}`;
}

export interface EmbeddingTrial {
  config: EmbeddingConfig;
  validation: RankingMetrics;
  seconds: number;
}

/**
 * Picks the embedding method and its hyper-parameters by NDCG@10 on the validation slice (models
 * fit on train minus validation), scoring a sample of validation users to keep tuning fast on large data.
 */
export function tuneEmbeddings(
  fit: UserItems,
  validation: UserItems,
  grid: EmbeddingConfig[],
  sampleUsers: number,
  seed: number,
): { best: AlsModel; bestConfig: EmbeddingConfig; trials: EmbeddingTrial[] } {
  const rng = new Rng(seed);
  const users = usersWithItems(validation, sampleUsers, rng);
  const trials: EmbeddingTrial[] = [];
  let best: { model: AlsModel; config: EmbeddingConfig; ndcg: number } | undefined;
  for (const config of grid) {
    const t0 = performance.now();
    const model = trainEmbeddings(fit, config);
    const validationMetrics = evaluateRanking(embeddingRecommender(model), fit, validation, users);
    const seconds = (performance.now() - t0) / 1000;
    trials.push({ config, validation: validationMetrics, seconds });
    note(
      `  ${describeEmbedding(config)}: validation NDCG@10 ${validationMetrics['ndcg@10'].toFixed(4)} (${seconds.toFixed(1)}s)`,
    );
    if (!best || validationMetrics['ndcg@10'] > best.ndcg) best = { model, config, ndcg: validationMetrics['ndcg@10'] };
  }
  if (!best) throw new Error('embedding tuning needs at least one grid point');
  return { best: best.model, bestConfig: best.config, trials };
}
