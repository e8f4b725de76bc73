import type { BoughtTogetherCall } from '../../protocol/calls.js';
import type { BoughtTogetherResult, ResultItem } from '../../protocol/replies.js';
import { round6, trendingItems, type RankContext } from '../../rank/context.js';

/** `boughtTogether`: association rules from the basket, then co-occurrence neighbours, then trending. */
export function boughtTogetherCall(ctx: RankContext, c: BoughtTogetherCall): BoughtTogetherResult {
  const m = ctx.model;
  const basket = c.items.map((id) => m.itemIndex.indexOf(id)).filter((i) => i >= 0);
  const { mask, release } = ctx.masks.apply({ ...c.filters, excludeSeen: false }, [], basket);
  try {
    const best = new Map<number, { conf: number; lift: number; from: number }>();
    const rules = m.data.rules;
    for (const a of basket) {
      for (let p = rules.indptr[a]; p < rules.indptr[a + 1]; p++) {
        const j = rules.consequent[p];
        if (mask[j]) continue;
        const cur = best.get(j);
        if (!cur || rules.confidence[p] > cur.conf)
          best.set(j, { conf: rules.confidence[p], lift: rules.lift[p], from: a });
      }
    }
    const ranked = [...best.entries()]
      .sort((x, y) => y[1].conf - x[1].conf || y[1].lift - x[1].lift || x[0] - y[0])
      .slice(0, c.k);
    const items: ResultItem[] = ranked.map(([j, r]) => ({
      id: m.data.items[j].id,
      score: round6(r.conf),
      stage: 'rules',
      explanation: `bought with ${ctx.explainer.label(r.from)} (confidence ${r.conf.toFixed(2)}, lift ${r.lift.toFixed(1)})`,
    }));
    if (items.length < c.k) {
      // Too few rules: fall back to co-occurrence neighbours, then to what is trending.
      const taken = new Set(ranked.map(([j]) => j));
      const knn = m.data.knn;
      const sims = new Map<number, number>();
      for (const a of basket) {
        for (let p = knn.indptr[a]; p < knn.indptr[a + 1]; p++) {
          const j = knn.neighbours[p];
          if (!mask[j] && !taken.has(j)) sims.set(j, (sims.get(j) ?? 0) + knn.similarity[p]);
        }
      }
      for (const [j, s] of [...sims.entries()]
        .sort((x, y) => y[1] - x[1] || x[0] - y[0])
        .slice(0, c.k - items.length)) {
        items.push({
          id: m.data.items[j].id,
          score: round6(s),
          stage: 'item-knn',
          explanation: 'often chosen by the same shoppers',
        });
        taken.add(j);
      }
      if (items.length < c.k) items.push(...trendingItems(ctx, c.k - items.length, c.filters, [...basket, ...taken]));
    }
    return { items, basket: { known: basket.length, unknown: c.items.length - basket.length } };
  } finally {
    release();
  }
}
