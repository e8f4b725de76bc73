import type { RecommendCall } from '../../protocol/calls.js';
import type { RecommendResult, ResultItem } from '../../protocol/replies.js';
import { recentFirst } from '../../data/history.js';
import { round6, type RankContext } from '../../rank/context.js';
import { diversify } from '../../rank/diversify.js';
import { isDense } from '../../rank/filters.js';
import { recommend } from '../../rank/recommend.js';
import type { RetrievalConfig } from '../../index/retrieve.js';
import { resolveUser } from '../../rank/user.js';
import type { Task, WorkMarks } from './task.js';

/** `recommend`: the two-stage pipeline for a shopper, filtered, optionally diversified, explained. */
export async function recommendCall(
  ctx: RankContext,
  c: RecommendCall,
  task: Task,
  marks?: WorkMarks,
): Promise<RecommendResult> {
  const m = ctx.model;
  const u = resolveUser(m, c.user, c.history, task);
  const { mask, release } = ctx.masks.apply(c.filters, u.history.items, u.rejected);
  try {
    const pool = c.diversity > 0 ? Math.min(c.k * 4, m.catalog.numItems) : c.k;
    const ranked = await recommend(m, {
      history: u.history,
      vector: u.vector,
      attrs: u.attrs,
      now: task.now,
      k: pool,
      exclude: mask,
      retrieval: retrievalFor(c, m.data.retrieval.candidates),
      exclusion: isDense(c.filters) ? 'dense' : 'sparse',
      ranking: c.ranking,
      onlyOwn: c.filters.onlySeen,
      marks,
    });
    let order = Array.from({ length: ranked.items.length }, (_, r) => r);
    if (c.diversity > 0) order = diversify(m, ranked.items, ranked.scores, c.k, c.diversity);
    const shown = order.slice(0, c.k);
    const recent = recentFirst(u.history, 20);
    const nearest = c.explain
      ? ctx.explainer.nearestInHistory(
          shown.filter((r) => ranked.stages[r] !== 'trending').map((r) => ranked.items[r]),
          recent,
        )
      : undefined;
    const followers = shown.filter((r) => ranked.stages[r] === 'follows').map((r) => ranked.items[r]);
    const followed = c.explain && followers.length > 0 ? ctx.explainer.followedFrom(followers, recent) : undefined;
    const byAttribute = shown.filter((r) => ranked.stages[r] === 'attributes').map((r) => ranked.items[r]);
    const attribute =
      c.explain && byAttribute.length > 0 ? ctx.explainer.attributeOf(byAttribute, u.history) : undefined;
    const items: ResultItem[] = shown.map((r) => {
      const i = ranked.items[r];
      const out: ResultItem = {
        id: m.data.items[i].id,
        score: Number.isNaN(ranked.scores[r]) ? null : round6(ranked.scores[r]),
        stage: ranked.stages[r],
      };
      if (c.explain)
        out.explanation = ctx.explainer.explain(i, ranked.stages[r], nearest, u.typeOf, followed, attribute);
      return out;
    });
    const user = {
      known: u.known,
      coldStart: u.history.items.length === 0,
      historyLength: u.history.items.length,
      ...(u.unknownItems.length > 0 && { unknownItems: u.unknownItems }),
    };
    return { items, user };
  } finally {
    release();
  }
}

/**
 * A request's retrieval settings: its candidate count, if given; a "buy it again" list (onlySeen)
 * takes every own item (up to the candidate count) into the list the ranker places them in.
 */
function retrievalFor(c: RecommendCall, bundleCandidates: number): Partial<RetrievalConfig> | undefined {
  const candidates = c.candidates !== undefined ? { candidates: c.candidates } : undefined;
  return c.filters.onlySeen ? { ...candidates, ownCandidates: c.candidates ?? bundleCandidates } : candidates;
}
