import { itemsOf, type UserItems } from '../data/interactions.js';
import { evaluateRanking } from '../metrics/ranking.js';
import { invertSpdInPlace } from '../util/linalg.js';
import { note, Progress } from '../util/progress.js';
import { topK } from '../util/topk.js';
import { easeScores, type EaseFitter, type EaseModel } from '../model/ease.js';
import { trainEase } from './ease.js';
import { ortInverse } from './ort-inverse.js';

export const EASE_LAMBDA_GRID = [50, 100, 250, 500, 1000];
/** Above this catalogue size λ is not tuned: each grid point would be another large inversion. */
export const EASE_TUNE_MAX_ITEMS = 3000;
/** Up to this size the exact float64 JS Cholesky inverts quickly; onnxruntime's Inverse takes over beyond. */
const JS_INVERSE_MAX_ITEMS = 3000;
export const EASE_DEFAULT_LAMBDA = 100;
/** Catalogues up to this size get EASE's dense weights (n² floats, 64 MiB here) stored in the bundle. */
export const EASE_BUNDLE_MAX_ITEMS = 4096;

export async function fitEase(ui: UserItems, lambda: number): Promise<EaseModel> {
  const js = ui.numItems <= JS_INVERSE_MAX_ITEMS;
  // One native call with no progress of its own: say what it is doing before it starts.
  if (!js)
    note(
      `EASE: inverting a ${ui.numItems.toLocaleString()} × ${ui.numItems.toLocaleString()} matrix on onnxruntime (minutes for tens of thousands of items)`,
    );
  return trainEase(ui, lambda, js ? invertSpdInPlace : ortInverse);
}

/**
 * EASE fit on `train` with λ given, or (`auto`) chosen by NDCG@10 on `validation` with models fit
 * on `fit` (train minus validation), for catalogues small enough to afford the grid.
 */
export const tuneAndFitEase: EaseFitter = async (lambda, split) => {
  const n = split.train.numItems;
  if (lambda !== 'auto' || n > EASE_TUNE_MAX_ITEMS) {
    const chosen = lambda === 'auto' ? EASE_DEFAULT_LAMBDA : lambda;
    return {
      model: await fitEase(split.train, chosen),
      chosenBy:
        lambda === 'auto'
          ? `default for catalogues over ${EASE_TUNE_MAX_ITEMS} items (tuning would need one large inversion per grid point)`
          : 'given',
    };
  }
  const scratch = new Float32Array(n);
  const validation: Record<string, number> = {};
  const progress = new Progress('ease lambda', EASE_LAMBDA_GRID.length + 1, 'fits');
  let best = EASE_LAMBDA_GRID[0];
  let bestNdcg = -Infinity;
  for (const l of EASE_LAMBDA_GRID) {
    const model = await fitEase(split.fit, l);
    const ndcg = evaluateRanking(
      (u, k, ex) => topK(easeScores(model, itemsOf(split.fit, u), scratch), k, ex),
      split.fit,
      split.validation,
    )['ndcg@10'];
    validation[l] = Number(ndcg.toFixed(4));
    if (ndcg > bestNdcg) {
      bestNdcg = ndcg;
      best = l;
    }
    progress.tick();
  }
  const model = await fitEase(split.train, best);
  progress.finish(`lambda ${best}`);
  return {
    model,
    chosenBy: `validation NDCG@10 over ${EASE_LAMBDA_GRID.join(', ')}`,
    validation,
  };
};
