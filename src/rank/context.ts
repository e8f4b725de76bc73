import type { Filters } from '../protocol/calls.js';
import type { ResultItem } from '../protocol/replies.js';
import { Explainer } from './explain.js';
import { ExclusionMasks } from './filters.js';
import type { RecModel } from './model.js';

/** One worker's model with the scratch its requests share (masks, explanation tables). */
export interface RankContext {
  model: RecModel;
  masks: ExclusionMasks;
  explainer: Explainer;
}

export function rankContext(model: RecModel): RankContext {
  return { model, masks: new ExclusionMasks(model), explainer: new Explainer(model) };
}

/** What is trending within the filters, skipping `skip`: the cold-start answer and every call's fill-in. */
export function trendingItems(ctx: RankContext, k: number, f: Filters, skip: readonly number[]): ResultItem[] {
  const m = ctx.model;
  const { mask, release } = ctx.masks.apply({ ...f, excludeSeen: false }, [], skip);
  try {
    const out: ResultItem[] = [];
    for (const i of m.trendingOrder) {
      if (out.length >= k) break;
      if (mask[i]) continue;
      out.push({
        id: m.data.items[i].id,
        score: null,
        stage: 'trending',
        explanation: ctx.explainer.trendingReason(i),
      });
    }
    return out;
  } finally {
    release();
  }
}

export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
