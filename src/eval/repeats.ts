import { itemsOf } from '../data/interactions.js';
import type { RecModel } from '../rank/model.js';
import { easeScores, type EaseModel } from '../model/ease.js';
import { topK } from '../util/topk.js';
import { type EvalRun, type ModelReport, rankModel, twoStageRecommender } from './rank-models.js';

/** The protocol variant where coming back to an item counts (`vitrine evaluate --protocol repeats`). */
export interface RepeatsReport {
  protocol: string;
  /** Users with at least one test item (all count here). */
  testUsersCounted: number;
  /** Share of test interactions with an item the shopper already had in train. */
  repeatShare: number;
  models: Record<string, ModelReport>;
}

export const REPEATS_PROTOCOL =
  'the same split; nothing excluded: the whole catalogue ranked, train items included, and every test item counted (a repeat is a hit)';

export const BUY_AGAIN = 'buy again (own items by count, then recency; then popular)';
export const TWO_STAGE_REPEATS = 'two-stage, seen items allowed (excludeSeen false)';

/**
 * The models side by side where repeats count: popularity, the classic "buy it again" list, EASE
 * (its zero diagonal still scores an own item by the rest of the history), and the two-stage
 * recommender as a request with `excludeSeen: false` gets it (own items are candidates, ranked by
 * the repeat features).
 */
export async function repeatsProtocol(
  base: EvalRun,
  model: RecModel,
  now: number,
  ease?: EaseModel,
): Promise<RepeatsReport> {
  const ctx: EvalRun = { ...base, truth: undefined, models: {}, repeats: true };
  const data = model.data;
  const pop = data.popularity.count;
  const popOrder = topK(pop, Math.min(pop.length, 1000));
  await rankModel(ctx, 'popularity', (_u, k, ex) => topK(pop, k, ex));
  await rankModel(ctx, BUY_AGAIN, (u, k) => buyAgain(ctx, u, k, popOrder));
  if (ease) {
    const scratch = new Float32Array(ctx.ds.numItems);
    await rankModel(ctx, `ease (lambda=${ease.lambda})`, (u, k, ex) =>
      topK(easeScores(ease, itemsOf(ctx.train, u), scratch), k, ex),
    );
  }
  await rankModel(ctx, TWO_STAGE_REPEATS, twoStageRecommender(model, data.history, now));
  const two = ctx.models[TWO_STAGE_REPEATS];
  return { protocol: REPEATS_PROTOCOL, testUsersCounted: two.users, repeatShare: two.repeatShare, models: ctx.models };
}

/** The shopper's own items, most often touched first (ties: most recent), then the most popular others. */
function buyAgain(ctx: EvalRun, u: number, k: number, popOrder: Int32Array): Int32Array {
  const s = ctx.train.indptr[u];
  const e = ctx.train.indptr[u + 1];
  const own = Array.from({ length: e - s }, (_, j) => s + j).sort(
    (a, b) => ctx.train.count[b] - ctx.train.count[a] || ctx.train.lastTime[b] - ctx.train.lastTime[a],
  );
  const out = own.slice(0, k).map((p) => ctx.train.items[p]);
  const taken = new Set(out);
  for (const i of popOrder) {
    if (out.length >= k) break;
    if (!taken.has(i)) out.push(i);
  }
  return Int32Array.from(out);
}
