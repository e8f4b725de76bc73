import type { UserHistory } from '../data/history.js';
import { profileTokens, tokenName } from '../model/attribute-lists.js';
import type { ItemNeighbours } from '../model/knn.js';
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
    const best = this.strongestLink(this.model.data.knn, items, recent);
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

  /**
   * For each item, the recent history item shoppers most often went on to it from (the followers
   * model); items no recent item leads to are left out.
   */
  followedFrom(items: readonly number[], recent: Int32Array): Map<number, number> {
    return this.strongestLink(this.model.data.follows, items, recent);
  }

  /** Per item, the `recent` item with the strongest link to it in `graph` (the first such in `recent`'s order). */
  private strongestLink(graph: ItemNeighbours, items: readonly number[], recent: Int32Array): Map<number, number> {
    const sims = this.nearestSims;
    const best = new Map<number, number>();
    for (const i of items) sims.slot(i);
    try {
      for (const h of recent) {
        for (let p = graph.indptr[h]; p < graph.indptr[h + 1]; p++) {
          const a = sims.find(graph.neighbours[p]);
          if (a >= 0 && graph.similarity[p] > sims.values[a]) {
            sims.values[a] = graph.similarity[p];
            best.set(graph.neighbours[p], h);
          }
        }
      }
    } finally {
      sims.clear();
    }
    return best;
  }

  /**
   * For each item, the attribute (category, brand) whose list of most bought items the attribute
   * source found it in: the strongest of the shopper's profile tokens whose list holds it.
   */
  attributeOf(items: readonly number[], history: UserHistory): Map<number, string> {
    const lists = this.model.graphs.attributes;
    const named = new Map<number, string>();
    if (!lists) return named;
    const { tokens } = profileTokens(lists, history);
    for (const i of items) {
      const t = tokens.find((p) => lists.items.subarray(lists.indptr[p], lists.indptr[p + 1]).includes(i));
      if (t !== undefined) named.set(i, tokenName(this.model.catalog, t));
    }
    return named;
  }

  /**
   * "Because you viewed X", X from nearestInHistory; a follower says which item shoppers went on to it
   * from (`followed`, from followedFrom); an item the attribute source found, which attribute's list
   * it came from (`attribute`, from attributeOf); trending fill-ins say what trends.
   */
  explain(
    item: number,
    stage: Stage,
    nearest: Map<number, number> | undefined,
    typeOf: (item: number) => string | undefined,
    followed?: Map<number, number>,
    attribute?: Map<number, string>,
  ): string {
    if (stage === 'history') return `you ${VERB[typeOf(item) ?? ''] ?? 'looked at'} it before`;
    if (stage === 'trending' || !nearest) return this.trendingReason(item);
    const from = stage === 'follows' ? followed?.get(item) : undefined;
    if (from !== undefined) return `shoppers often go on to it after ${this.label(from)}`;
    const liked = stage === 'attributes' ? attribute?.get(item) : undefined;
    if (liked !== undefined) return `popular in ${liked}, which you keep coming back to`;
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
