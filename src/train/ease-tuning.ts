import { itemsOf, mostPopularItems, restrictToItems, type UserItems } from '../data/interactions.js';
import { evaluateRanking } from '../metrics/ranking.js';
import { invertSpdInPlace } from '../util/linalg.js';
import { note, Progress } from '../util/progress.js';
import { topK } from '../util/topk.js';
import { easeScores, type EaseFitter, type EaseModel, type FittedEase } from '../model/ease.js';
import { trainEase } from './ease.js';
import { ortInverse } from './ort-inverse.js';

export const EASE_LAMBDA_GRID = [25, 50, 100, 250, 500, 1000];
/** Above this catalogue size λ is tuned on this many of the most popular items: each grid point is an inversion. */
export const EASE_TUNE_MAX_ITEMS = 3000;
/**
 * Up to this size the float64 JS Cholesky (exact and deterministic) inverts in under a second;
 * onnxruntime's float32 Inverse takes over beyond. One fit on MovieLens' most popular items, JS
 * against onnxruntime: 250 items 35 against 15-40 ms, 500 items 125 / 40 ms, 1,000 items 0.86 / 0.18 s,
 * 1,500 items 3.2 / 0.46 s. The λ grid's six fits: MovieLens' 1,682 items 18.5 / 3.2 s, Beauty's 3,000
 * most popular 131 / 14 s, with validation NDCG@10 the same to five decimals at every λ.
 */
const JS_INVERSE_MAX_ITEMS = 1000;
export const EASE_DEFAULT_LAMBDA = 100;
/** Catalogues up to this size get EASE's dense weights (n² floats, 64 MiB here) stored in the bundle. */
export const EASE_BUNDLE_MAX_ITEMS = 4096;

export async function fitEase(ui: UserItems, lambda: number): Promise<EaseModel> {
  const js = ui.numItems <= JS_INVERSE_MAX_ITEMS;
  // One native call with no progress of its own: say what it is doing before a long one starts
  // (the λ grid's fits, at most EASE_TUNE_MAX_ITEMS, take seconds and have their own progress).
  if (ui.numItems > EASE_TUNE_MAX_ITEMS)
    note(
      `EASE: inverting a ${ui.numItems.toLocaleString()} × ${ui.numItems.toLocaleString()} matrix on onnxruntime (minutes for tens of thousands of items)`,
    );
  return trainEase(ui, lambda, js ? invertSpdInPlace : ortInverse);
}

/** λ chosen by NDCG@10 on `validation` with models fit on `fit`, over the grid. */
export async function tuneEaseLambda(
  fit: UserItems,
  validation: UserItems,
  grid: readonly number[] = EASE_LAMBDA_GRID,
): Promise<{ best: number; validation: Record<string, number> }> {
  const scratch = new Float32Array(fit.numItems);
  const scores: Record<string, number> = {};
  const progress = new Progress('ease lambda', grid.length, 'fits');
  let best = grid[0];
  let bestNdcg = -Infinity;
  for (const l of grid) {
    const model = await fitEase(fit, l);
    const ndcg = evaluateRanking(
      (u, k, ex) => topK(easeScores(model, itemsOf(fit, u), scratch), k, ex),
      fit,
      validation,
    )['ndcg@10'];
    scores[l] = Number(ndcg.toFixed(4));
    if (ndcg > bestNdcg) {
      bestNdcg = ndcg;
      best = l;
    }
    progress.tick();
  }
  progress.finish(`lambda ${best}`);
  return { best, validation: scores };
}

/**
 * EASE fit on `train` with λ given, or (`auto`) chosen by NDCG@10 on `validation` with models fit
 * on `fit` (train minus validation). Over `tuneMaxItems` items, λ is chosen on the most popular
 * `tuneMaxItems` (the same users, their interactions with those items): a full-size grid would
 * need one large inversion per point (146 s each at Beauty's 12,101 items). On MovieLens 100K the
 * λ chosen on its 400 or 800 most popular items is the one chosen on all 1,682 (250); on 1,200 it is
 * 100, within 0.0002 of 250's validation NDCG@10: the curve is flat near its top.
 */
export async function tuneAndFitEaseWith(
  lambda: number | 'auto',
  split: { train: UserItems; fit: UserItems; validation: UserItems },
  tuneMaxItems = EASE_TUNE_MAX_ITEMS,
): Promise<FittedEase> {
  if (lambda !== 'auto') return { model: await fitEase(split.train, lambda), chosenBy: 'given' };
  const n = split.train.numItems;
  const subset = n > tuneMaxItems ? mostPopularItems(split.fit, tuneMaxItems) : undefined;
  const tuned = subset
    ? await tuneEaseLambda(restrictToItems(split.fit, subset), restrictToItems(split.validation, subset))
    : await tuneEaseLambda(split.fit, split.validation);
  return {
    model: await fitEase(split.train, tuned.best),
    chosenBy: subset
      ? `validation NDCG@10 over ${EASE_LAMBDA_GRID.join(', ')} on the ${tuneMaxItems.toLocaleString()} most popular of ${n.toLocaleString()} items`
      : `validation NDCG@10 over ${EASE_LAMBDA_GRID.join(', ')}`,
    validation: tuned.validation,
  };
}

export const tuneAndFitEase: EaseFitter = (lambda, split) => tuneAndFitEaseWith(lambda, split);
