import { trueUtility, type World } from './world.js';

/**
 * How the synthetic world's shoppers answer a recommendation list: the ground truth experiment
 * simulations play variants against, and which no model sees. The chance of a click on an item falls
 * with its position (1/log2(position + 2), the discount NDCG uses) and rises with how much the shopper
 * truly likes it: a logistic in the item's utility, standardised over the whole catalogue for that
 * shopper, so that an item among their true favourites (two deviations up) is clicked about 30% of the
 * time in first place and a typical item about 2%. A click becomes a purchase a quarter of the time,
 * at the item's price.
 */
export interface RecommendationResponse {
  /** The chance that shopper `u` clicks item `id` shown at `position` (0 first); 0 for an unknown item. */
  click(u: number, id: string, position: number): number;
  readonly purchaseAfterClick: number;
  price(id: string): number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export function recommendationResponse(world: World): RecommendationResponse {
  const index = new Map(world.items.map((it, i) => [it.id, i]));
  const dim = world.config.dim;
  // Per shopper: the mean and spread of their utility over the catalogue, computed when first needed.
  const scale = new Map<number, { mean: number; sd: number }>();
  const moments = (u: number): { mean: number; sd: number } => {
    let m = scale.get(u);
    if (!m) {
      let s = 0;
      let s2 = 0;
      for (const it of world.items) {
        const x = trueUtility(world.users[u], it, dim);
        s += x;
        s2 += x * x;
      }
      const mean = s / world.items.length;
      m = { mean, sd: Math.sqrt(Math.max(1e-12, s2 / world.items.length - mean * mean)) };
      scale.set(u, m);
    }
    return m;
  };
  return {
    click(u, id, position) {
      const i = index.get(id);
      if (i === undefined) return 0;
      const { mean, sd } = moments(u);
      const z = (trueUtility(world.users[u], world.items[i], dim) - mean) / sd;
      return sigmoid(-4 + 1.6 * z) / Math.log2(position + 2);
    },
    purchaseAfterClick: 0.25,
    price: (id) => {
      const i = index.get(id);
      return i === undefined ? 0 : world.items[i].price;
    },
  };
}
