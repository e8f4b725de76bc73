import { topK } from '../../util/topk.js';
import { trueUtility, type World } from './world.js';

export interface UserTruth {
  user: number;
  items: Int32Array;
  scores: Float64Array;
}

/**
 * Each user's truly preferred items: the top of the preference part of utility (taste, quality,
 * price fit) over the whole catalogue, before exposure and promotions. Models are judged on how
 * well they recover this.
 */
export function* groundTruth(world: World): Generator<UserTruth> {
  const { items, users, config } = world;
  const k = Math.min(config.truthTopK, items.length);
  const scores = new Float64Array(items.length);
  for (let u = 0; u < users.length; u++) {
    for (let i = 0; i < items.length; i++) scores[i] = trueUtility(users[u], items[i], config.dim);
    const top = topK(scores, k);
    yield { user: u, items: top, scores: Float64Array.from(top, (i) => scores[i]) };
  }
}
