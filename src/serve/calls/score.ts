import { DEFAULT_FILTERS, type ScoreCall } from '../../protocol/calls.js';
import type { ScoredItem, ScoreResult } from '../../protocol/replies.js';
import { recentFirst } from '../../data/history.js';
import { retrieve, type Retrieved } from '../../index/retrieve.js';
import { round6, type RankContext } from '../../rank/context.js';
import { userVector } from '../../rank/recommend.js';
import { resolveUser } from '../../rank/user.js';
import type { Task } from './task.js';

/**
 * `score`: the ranker's probability for given items, the one `recommend` (default filters, same
 * candidates) gives each, whatever else the request lists and in what order.
 */
export async function scoreCall(ctx: RankContext, c: ScoreCall, task: Task): Promise<ScoreResult> {
  const m = ctx.model;
  const u = resolveUser(m, c.user, c.history, task);
  const vector = userVector(m, u.history, u.vector);
  const idx = c.items.map((id) => m.itemIndex.indexOf(id));
  const known = idx.filter((i) => i >= 0);
  const probs = new Map<number, number>();
  if (vector && known.length > 0) {
    // Each item is ranked where `recommend` would retrieve it, or just past the end of that list.
    const { mask, release } = ctx.masks.apply(DEFAULT_FILTERS, u.history.items);
    let list: Retrieved;
    try {
      const retrieval =
        c.candidates !== undefined ? { ...m.data.retrieval, candidates: c.candidates } : m.data.retrieval;
      list = retrieve(m.hnsw, m.graphs, vector, u.history, mask, retrieval, m.scratch);
    } finally {
      release();
    }
    const position = new Map<number, number>();
    list.items.forEach((i, r) => position.set(i, r));
    const rank = known.map((i) => position.get(i) ?? list.items.length);
    const rows = new Float32Array(known.length * m.features.width);
    m.features.build({ history: u.history, vector, attrs: u.attrs, now: task.now }, known, rows, {
      size: list.items.length,
      rank,
    });
    const p = await m.ranker.score(rows, known.length);
    known.forEach((i, r) => probs.set(i, p[r]));
  }
  const nearest = ctx.explainer.nearestInHistory([...probs.keys()], recentFirst(u.history, 20));
  const items = c.items.map((id, r): ScoredItem => {
    const i = idx[r];
    if (i < 0) return { id, score: null, known: false, explanation: "not in this bundle's catalogue" };
    // A cold-start user has no vector and so no ranker score.
    const s = probs.get(i);
    if (s === undefined)
      return { id, score: null, known: true, explanation: 'no history yet, so the ranker has nothing to score it by' };
    return {
      id,
      score: round6(s),
      known: true,
      stage: 'ranker',
      explanation: ctx.explainer.explain(i, 'hnsw', nearest, u.typeOf),
    };
  });
  return { items, user: { known: u.known, coldStart: u.history.items.length === 0 } };
}
