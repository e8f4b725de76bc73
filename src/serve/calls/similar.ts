import type { ItemDescription, SimilarCall } from '../../protocol/calls.js';
import type { ResultItem, SimilarResult } from '../../protocol/replies.js';
import { round6, trendingItems, type RankContext } from '../../rank/context.js';

/** `similar`: items whose embeddings point the same way (cosine), for a known item or one described by attributes. */
export function similarCall(ctx: RankContext, c: SimilarCall): SimilarResult {
  const m = ctx.model;
  const d = m.data.als.factors;
  let vector: Float32Array;
  let self = -1;
  let known = true;
  if (typeof c.item === 'string') {
    self = m.itemIndex.indexOf(c.item);
    if (self < 0) return { items: trendingItems(ctx, c.k, c.filters, []), item: { known: false } };
  } else {
    self = m.itemIndex.indexOf(c.item.id);
    known = self >= 0;
  }
  // An item nobody interacted with has a zero embedding, which is near nothing: like an unknown
  // item, it is placed among the items that share its category, brand and attributes. Items of a
  // newer catalogue (--catalog) were placed that way when the server started.
  const zero = self < 0 || m.features.itemNorm(self) === 0;
  const placed = zero || self >= m.data.items.length - m.newItems;
  if (!zero) vector = m.data.als.itemFactors.subarray(self * d, (self + 1) * d);
  else {
    const it = self >= 0 ? m.data.items[self] : (c.item as ItemDescription);
    vector = m.placer.place({ category: it.category, brand: it.brand, attributes: it.attributes ?? [] }).vector;
  }
  const because = placed ? 'shares its category, brand or attributes' : `similar to ${ctx.explainer.label(self)}`;
  const { mask, release } = ctx.masks.apply({ ...c.filters, excludeSeen: false }, [], self >= 0 ? [self] : []);
  try {
    // Inner-product retrieval favours popular items; re-rank a wider pool by cosine for "looks like this".
    const pool = m.hnsw.search(vector, Math.min(c.k * 4, m.catalog.numItems), mask);
    let vn = 0;
    for (let q = 0; q < d; q++) vn += vector[q] ** 2;
    vn = Math.sqrt(vn);
    const scored = Array.from(pool.items, (i, r) => {
      const norm = m.features.itemNorm(i);
      return { i, s: vn > 0 && norm > 0 ? pool.scores[r] / (vn * norm) : 0 };
    });
    scored.sort((a, b) => b.s - a.s || a.i - b.i);
    const items: ResultItem[] = scored
      .slice(0, c.k)
      .map(({ i, s }) => ({ id: m.data.items[i].id, score: round6(s), stage: 'similar', explanation: because }));
    if (items.length < c.k)
      items.push(
        ...trendingItems(ctx, c.k - items.length, c.filters, [...(self >= 0 ? [self] : []), ...scored.map((x) => x.i)]),
      );
    return { items, item: { known, placedByAttributes: placed } };
  } finally {
    release();
  }
}
