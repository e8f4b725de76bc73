import { itemsOf, type UserItems } from '../data/interactions.js';

export interface RankingMetrics {
  users: number;
  'recall@10': number;
  'ndcg@10': number;
  'hr@10': number;
  'mrr@10': number;
  'recall@50': number;
  /** Share of the catalogue that appears in at least one user's top 10. */
  'coverage@10': number;
  /** Test interactions with an item the user already had in train (not counted above, unless `repeats`). */
  repeatShare: number;
  /** Recall at a retrieval depth past 50 (e.g. the 200 candidates a ranker sees), when asked for. */
  deepRecall?: { k: number; recall: number };
}

/**
 * Ranks the whole catalogue minus the user's train items and returns the best `k` item indices,
 * best first. `exclude` has the user's train items set to 1 (reused across users, so do not keep it).
 */
export type Recommender = (user: number, k: number, exclude: Uint8Array) => Int32Array;

/**
 * The quality protocol's metrics: test items already in the user's train set are not counted;
 * averages are over users with at least one counted test item. Recall divides hits by the number of
 * counted test items; NDCG uses binary gains with the ideal DCG over min(|test|, K).
 * `repeats`: the variant where repeats count: nothing is excluded and every test item is counted
 * (a shopper's coming back to an item is a hit, as "buy it again" sees it).
 */
export function evaluateRanking(
  recommend: Recommender,
  train: UserItems,
  test: UserItems,
  users?: Iterable<number>,
  deep?: number,
  repeats = false,
): RankingMetrics {
  const depth = Math.max(50, deep ?? 0);
  const had = new Uint8Array(train.numItems);
  const exclude = repeats ? new Uint8Array(train.numItems) : had;
  const covered = new Uint8Array(train.numItems);
  const relevant = new Uint8Array(train.numItems);
  let n = 0;
  let recall10 = 0;
  let ndcg10 = 0;
  let hr10 = 0;
  let mrr10 = 0;
  let recall50 = 0;
  let recallDeep = 0;
  let repeated = 0;
  let testTotal = 0;
  const ln2 = Math.log(2);
  for (const u of users ?? range(test.numUsers)) {
    const trainItems = itemsOf(train, u);
    const testItems = itemsOf(test, u);
    if (testItems.length === 0) continue;
    for (const i of trainItems) had[i] = 1;
    const counted: number[] = [];
    for (const i of testItems) {
      testTotal++;
      if (had[i]) repeated++;
      if (repeats || !had[i]) counted.push(i);
    }
    if (counted.length > 0) {
      for (const i of counted) relevant[i] = 1;
      const top = recommend(u, depth, exclude);
      let hits10 = 0;
      let hits50 = 0;
      let hitsDeep = 0;
      let dcg = 0;
      let firstHit = 0;
      for (let r = 0; r < top.length && r < depth; r++) {
        const i = top[r];
        if (r < 10) covered[i] = 1;
        if (!relevant[i]) continue;
        if (deep === undefined || r < deep) hitsDeep++;
        if (r >= 50) continue;
        hits50++;
        if (r < 10) {
          hits10++;
          dcg += ln2 / Math.log(r + 2);
          if (firstHit === 0) firstHit = r + 1;
        }
      }
      let idcg = 0;
      for (let r = 0; r < Math.min(counted.length, 10); r++) idcg += ln2 / Math.log(r + 2);
      n++;
      recall10 += hits10 / counted.length;
      recall50 += hits50 / counted.length;
      recallDeep += hitsDeep / counted.length;
      ndcg10 += dcg / idcg;
      hr10 += hits10 > 0 ? 1 : 0;
      mrr10 += firstHit > 0 ? 1 / firstHit : 0;
      for (const i of counted) relevant[i] = 0;
    }
    for (const i of trainItems) had[i] = 0;
  }
  let cov = 0;
  for (const c of covered) cov += c;
  // No user to average over: the means are undefined (shown "-", null in JSON), not zero.
  const avg = (x: number): number => (n > 0 ? x / n : NaN);
  return {
    users: n,
    'recall@10': avg(recall10),
    'ndcg@10': avg(ndcg10),
    'hr@10': avg(hr10),
    'mrr@10': avg(mrr10),
    'recall@50': avg(recall50),
    'coverage@10': cov / train.numItems,
    repeatShare: testTotal > 0 ? repeated / testTotal : 0,
    ...(deep !== undefined && { deepRecall: { k: deep, recall: avg(recallDeep) } }),
  };
}

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}
