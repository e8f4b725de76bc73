import type { UserAttributes } from '../data/types.js';

/** The ranker's inputs by name, and the vocabularies fixed at training time: stored in a bundle as features.json. */
export interface FeatureSpec {
  version: 1;
  names: string[];
  /** One-hot vocabularies of user attributes, fixed at training time. */
  userVocab: { field: 'ageBand' | 'gender' | 'region'; values: string[] }[];
  /** How many of the most recent items the "recent" features look at (whole baskets: see recentBaskets). */
  recentWindow: number;
  /** Items touched at one timestamp form a basket (train --baskets: each item its own when off). */
  baskets: boolean;
}

const BASE_FEATURES = [
  'emb_score', // user vector · item vector
  'retrieval_rank', // position in the retrieval list, scaled to [0, 1]
  'knn_sum', // sum of item-kNN similarity to the history, / sqrt(|history|)
  'knn_max', // strongest similarity to any history item
  'knn_recent', // similarity to the latest baskets' items, decayed by basket
  'knn_last', // strongest similarity to an item of the last basket
  'emb_cos_last', // embedding cosine to the last basket's mean vector
  'log_pop', // log(1 + interactions)
  'log_trend', // log(1 + time-decayed interactions)
  'item_age', // log(1 + days from the item's first interaction to the bundle's data end)
  'item_idle', // log(1 + days from the item's last interaction to the bundle's data end)
  'cat_affinity', // share of the history in the item's category
  'attr_affinity', // mean share of the history carrying each of the item's attributes
  'price_rel', // log(item price / median price of the history)
  'price_known', // 1 when both prices exist
  'hist_len', // log(1 + user's events)
  'user_idle', // log(1 + days since the user's last event)
  'rule_conf', // best association-rule confidence from a history item
  'rule_lift', // log of the best lift
  'own_count', // log(1 + the shopper's events with this item): nonzero only for a repeat candidate
  'own_days', // log(1 + days since the shopper last touched this item)
  'item_repeat', // share of the item's shoppers who came back to it on a later date
  'item_cycle', // log(1 + mean days between one shopper's visits to it, among those who came back)
  'follow_recent', // how often shoppers went on to the item after the latest baskets' items, decayed by basket
  'follow_last', // the strongest such weight from an item of the last basket
] as const;

/** Where the user one-hot columns start (after BASE_FEATURES). */
export const USER_COLUMNS = BASE_FEATURES.length;

export function makeFeatureSpec(
  users: readonly (UserAttributes | undefined)[],
  recentWindow = 5,
  baskets = true,
): FeatureSpec {
  const vocab = (field: 'ageBand' | 'gender' | 'region', max: number): { field: typeof field; values: string[] } => {
    const counts = new Map<string, number>();
    for (const u of users) {
      const v = u?.[field];
      if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const values = [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, max)
      .map(([v]) => v)
      .sort();
    return { field, values };
  };
  const userVocab = [vocab('ageBand', 8), vocab('gender', 3), vocab('region', 8)].filter((v) => v.values.length > 1);
  const names = [...BASE_FEATURES, ...userVocab.flatMap((v) => v.values.map((x) => `user_${v.field}=${x}`))];
  return { version: 1, names, userVocab, recentWindow, baskets };
}
