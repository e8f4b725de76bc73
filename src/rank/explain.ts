import type { Stage } from '../protocol/replies.js';
import { ItemAccumulator } from '../util/item-accumulator.js';
import { itemCosine } from './diversify.js';
import type { RecModel } from './model.js';

/** What a shopper did with an item, by event type, as an explanation says it. */
export const VERB: Record<string, string> = {
  view: 'viewed',
  click: 'clicked',
  cart: 'added to your cart',
  purchase: 'bought',
  rate: 'rated',
};

/** Why an item is shown ("because you viewed X"), in words a shopper would recognise. One per worker (it owns scratch). */
export class Explainer {
  /** Scratch for nearestInHistory: the best kNN similarity so far per item being explained. */
  private readonly nearestSims = new ItemAccumulator(1, 512);

  constructor(private readonly model: RecModel) {}

  /**
   * For each item, the recent history item most similar to it: the highest item-kNN similarity
   * (the first such in `recent`'s order), else the highest embedding cosine; items with neither are
   * left out; undefined for an empty history. One pass over the history items' neighbour lists
   * serves every item (asking item by item scanned each list once per item: ~35 µs of a 10-item reply).
   */
  nearestInHistory(items: readonly number[], recent: Int32Array): Map<number, number> | undefined {
    if (recent.length === 0) return undefined;
    const { knn } = this.model.data;
    const sims = this.nearestSims;
    const best = new Map<number, number>();
    for (const i of items) sims.slot(i);
    try {
      for (const h of recent) {
        for (let p = knn.indptr[h]; p < knn.indptr[h + 1]; p++) {
          const a = sims.find(knn.neighbours[p]);
          if (a >= 0 && knn.similarity[p] > sims.values[a]) {
            sims.values[a] = knn.similarity[p];
            best.set(knn.neighbours[p], h);
          }
        }
      }
    } finally {
      sims.clear();
    }
    for (const i of items) {
      if (best.has(i)) continue;
      let bestSim = 0;
      for (const h of recent) {
        const c = itemCosine(this.model, h, i);
        if (c > bestSim) {
          bestSim = c;
          best.set(i, h);
        }
      }
    }
    return best;
  }

  /** "Because you viewed X", X from nearestInHistory; trending fill-ins say what trends. */
  explain(
    item: number,
    stage: Stage,
    nearest: Map<number, number> | undefined,
    typeOf: (item: number) => string | undefined,
  ): string {
    if (stage === 'history') return `you ${VERB[typeOf(item) ?? ''] ?? 'looked at'} it before`;
    if (stage === 'trending' || !nearest) return this.trendingReason(item);
    const best = nearest.get(item);
    if (best === undefined) return 'matches your taste profile';
    return `because you ${VERB[typeOf(best) ?? ''] ?? 'looked at'} ${this.label(best)}`;
  }

  trendingReason(item: number): string {
    const cat = this.model.catalog.category[item];
    return cat >= 0 ? `trending in ${this.model.catalog.categoryNames[cat]}` : 'trending now';
  }

  /** An item as a shopper would recognise it: its name where the catalogue has one. */
  label(item: number): string {
    const it = this.model.data.items[item];
    return it.text ? `"${it.text}"` : it.id;
  }
}
