import { favouriteCategories } from '../../promotions/context.js';
import type { PromotionCall } from '../../protocol/calls.js';
import type { PromotionContextResult } from '../../protocol/replies.js';
import type { RankContext } from '../../rank/context.js';
import { resolveUser } from '../../rank/user.js';
import { shopperSegment } from './segment.js';
import type { Task } from './task.js';

/**
 * The model's half of `promotion`: who the shopper is to the bandit (segment, the categories an
 * offer must match, the basket's value). The main thread then decides with the shared counts.
 * Batch scoring and the simulator build the same context the same way.
 */
export function promotionContextCall(ctx: RankContext, c: PromotionCall, task: Task): PromotionContextResult {
  const m = ctx.model;
  const u = resolveUser(m, c.user, c.history, task);
  const segment = shopperSegment(ctx, u.history);
  if (!c.basket)
    return {
      segment,
      categories: favouriteCategories(u.history, m.catalog),
    };
  const categories = new Set<string>();
  let value = 0;
  const unknownItems: string[] = [];
  for (const line of c.basket) {
    const i = m.itemIndex.indexOf(line.item);
    if (i >= 0 && m.catalog.category[i] >= 0) categories.add(m.catalog.categoryNames[m.catalog.category[i]]);
    const price = line.price ?? (i >= 0 ? m.catalog.price[i] : Number.NaN);
    if (Number.isFinite(price)) value += price * line.quantity;
    else unknownItems.push(line.item);
  }
  return {
    segment,
    categories: [...categories],
    basket: Math.round(value * 100) / 100,
    ...(unknownItems.length > 0 && { unpricedItems: unknownItems }),
  };
}
