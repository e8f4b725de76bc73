import type { PromotionContextResult, WorkerResult } from '../../protocol/replies.js';
import type { RankContext } from '../../rank/context.js';
import { boughtTogetherCall } from './bought-together.js';
import { profileCall } from './profile.js';
import { promotionContextCall } from './promotion.js';
import { recommendCall } from './recommend.js';
import { scoreCall } from './score.js';
import { similarCall } from './similar.js';
import type { Task, WorkMarks } from './task.js';

/** Answers one validated call over a worker's model. Pure request → result: the worker and the tests drive it. */
export async function runCall(ctx: RankContext, task: Task, marks?: WorkMarks): Promise<WorkerResult> {
  const c = task.call;
  switch (c.call) {
    case 'recommend':
      return recommendCall(ctx, c, task, marks);
    case 'similar':
      return similarCall(ctx, c);
    case 'boughtTogether':
      return boughtTogetherCall(ctx, c);
    case 'score':
      return scoreCall(ctx, c, task);
    case 'profile':
      return profileCall(ctx, c, task);
    case 'promotion':
      return promotionContextCall(ctx, c, task) satisfies PromotionContextResult;
  }
}
