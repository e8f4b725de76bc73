import type { UserAttributes } from '../data/types.js';
import type { Popularity } from '../train/popularity.js';
import type { AssociationRules } from '../train/rules.js';
import type { ItemNeighbours } from '../train/itemknn.js';
import type { EncodedCatalog } from './catalog.js';
import { recentFirst, type UserHistory } from './history.js';

/**
 * The one feature-building path for (user, candidate) pairs: ranker training, evaluation, batch
 * scoring and online serving all call `FeatureBuilder.build`, so there is no train/serve skew.
 */

/** The models features read from; a bundle loaded for serving provides the same shape. */
export interface FeatureModel {
  catalog: EncodedCatalog;
  factors: number;
  itemFactors: Float32Array;
  knn: ItemNeighbours;
  popularity: Popularity;
  rules: AssociationRules;
}

export interface FeatureSpec {
  version: 1;
  names: string[];
  /** One-hot vocabularies of user attributes, fixed at training time. */
  userVocab: { field: 'ageBand' | 'gender' | 'region'; values: string[] }[];
  /** How many of the most recent items the "recent" features look at. */
  recentWindow: number;
}

export interface UserInput {
  history: UserHistory;
  /** The user's embedding (ALS fold-in of the history). */
  vector: Float32Array;
  attrs?: UserAttributes;
  /** Request time, Unix seconds. */
  now: number;
}

const BASE_FEATURES = [
  'emb_score', // user vector · item vector
  'retrieval_rank', // position in the retrieval list, scaled to [0, 1]
  'knn_sum', // sum of item-kNN similarity to the history, / sqrt(|history|)
  'knn_max', // strongest similarity to any history item
  'knn_recent', // similarity to the most recent items, decayed by recency
  'knn_last', // similarity to the last item
  'emb_cos_last', // embedding cosine to the last item
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
] as const;

export function makeFeatureSpec(users: readonly (UserAttributes | undefined)[], recentWindow = 5): FeatureSpec {
  const vocab = (field: 'ageBand' | 'gender' | 'region', max: number): { field: typeof field; values: string[] } => {
    const counts = new Map<string, number>();
    for (const u of users) {
      const v = u?.[field];
      if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const values = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, max).map(([v]) => v).sort();
    return { field, values };
  };
  const userVocab = [vocab('ageBand', 8), vocab('gender', 3), vocab('region', 8)].filter((v) => v.values.length > 1);
  const names = [...BASE_FEATURES, ...userVocab.flatMap((v) => v.values.map((x) => `user_${v.field}=${x}`))];
  return { version: 1, names, userVocab, recentWindow };
}

const DAY = 86400;

/** Builds feature rows; holds catalogue-sized scratch buffers, so keep one per worker, not per request. */
export class FeatureBuilder {
  readonly width: number;
  private readonly knnSum: Float32Array;
  private readonly knnMax: Float32Array;
  private readonly knnRecent: Float32Array;
  private readonly knnLast: Float32Array;
  private readonly ruleConf: Float32Array;
  private readonly ruleLift: Float32Array;
  private readonly touched: number[] = [];
  private readonly mark: Uint8Array;
  private readonly itemNorm: Float32Array;

  constructor(
    readonly model: FeatureModel,
    readonly spec: FeatureSpec,
  ) {
    const n = model.catalog.numItems;
    this.width = spec.names.length;
    this.knnSum = new Float32Array(n);
    this.knnMax = new Float32Array(n);
    this.knnRecent = new Float32Array(n);
    this.knnLast = new Float32Array(n);
    this.ruleConf = new Float32Array(n);
    this.ruleLift = new Float32Array(n);
    this.mark = new Uint8Array(n);
    this.itemNorm = new Float32Array(n);
    const d = model.factors;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += model.itemFactors[i * d + k] ** 2;
      this.itemNorm[i] = Math.sqrt(s);
    }
  }

  private touch(j: number): void {
    if (this.mark[j] === 0) {
      this.mark[j] = 1;
      this.touched.push(j);
    }
  }

  /**
   * Writes one row per candidate into `out` (candidates.length × width, row-major).
   * `retrievalRank` is each candidate's 0-based position in the retrieval list (undefined: its order).
   */
  build(user: UserInput, candidates: ArrayLike<number>, out: Float32Array, retrievalRank?: ArrayLike<number>): Float32Array {
    const { catalog, knn, popularity, rules, itemFactors, factors: d } = this.model;
    const h = user.history;
    const n = candidates.length;
    if (out.length < n * this.width) throw new RangeError(`feature buffer holds ${out.length} values, needs ${n * this.width}`);

    const recent = recentFirst(h, Math.max(this.spec.recentWindow, 1));
    const last = recent.length > 0 ? recent[0] : -1;
    const histNorm = h.items.length > 0 ? 1 / Math.sqrt(h.items.length) : 0;

    for (let q = 0; q < h.items.length; q++) {
      const i = h.items[q];
      for (let p = knn.indptr[i]; p < knn.indptr[i + 1]; p++) {
        const j = knn.neighbours[p];
        const s = knn.similarity[p];
        this.touch(j);
        this.knnSum[j] += s;
        if (s > this.knnMax[j]) this.knnMax[j] = s;
      }
      for (let p = rules.indptr[i]; p < rules.indptr[i + 1]; p++) {
        const j = rules.consequent[p];
        this.touch(j);
        if (rules.confidence[p] > this.ruleConf[j]) this.ruleConf[j] = rules.confidence[p];
        if (rules.lift[p] > this.ruleLift[j]) this.ruleLift[j] = rules.lift[p];
      }
    }
    for (let r = 0; r < recent.length; r++) {
      const i = recent[r];
      const w = Math.pow(0.7, r);
      for (let p = knn.indptr[i]; p < knn.indptr[i + 1]; p++) {
        const j = knn.neighbours[p];
        this.touch(j);
        this.knnRecent[j] += w * knn.similarity[p];
        if (r === 0) this.knnLast[j] = knn.similarity[p];
      }
    }

    // Category and attribute shares of the history, and its typical price.
    const catShare = new Map<number, number>();
    const attrShare = new Map<number, number>();
    const prices: number[] = [];
    const hn = h.items.length;
    for (let q = 0; q < hn; q++) {
      const i = h.items[q];
      const c = catalog.category[i];
      if (c >= 0) catShare.set(c, (catShare.get(c) ?? 0) + 1 / hn);
      for (let a = catalog.attrIndptr[i]; a < catalog.attrIndptr[i + 1]; a++) {
        const id = catalog.attrIds[a];
        attrShare.set(id, (attrShare.get(id) ?? 0) + 1 / hn);
      }
      const pr = catalog.price[i];
      if (!Number.isNaN(pr)) prices.push(pr);
    }
    prices.sort((a, b) => a - b);
    const medianPrice = prices.length > 0 ? prices[prices.length >> 1] : NaN;

    const lastNorm = last >= 0 ? this.itemNorm[last] : 0;
    const histLen = Math.log1p(h.events);
    const userIdle = Number.isFinite(h.lastEventTime) ? Math.log1p(Math.max(0, user.now - h.lastEventTime) / DAY) : 0;
    const userOneHot: number[] = [];
    for (const v of this.spec.userVocab) {
      const value = user.attrs?.[v.field];
      for (const x of v.values) userOneHot.push(value === x ? 1 : 0);
    }

    const w = this.width;
    for (let r = 0; r < n; r++) {
      const j = candidates[r];
      const o = r * w;
      const jo = j * d;
      let score = 0;
      for (let k = 0; k < d; k++) score += user.vector[k] * itemFactors[jo + k];
      let cosLast = 0;
      if (last >= 0 && lastNorm > 0 && this.itemNorm[j] > 0) {
        let s = 0;
        const lo = last * d;
        for (let k = 0; k < d; k++) s += itemFactors[lo + k] * itemFactors[jo + k];
        cosLast = s / (lastNorm * this.itemNorm[j]);
      }
      let attrAff = 0;
      const na = catalog.attrIndptr[j + 1] - catalog.attrIndptr[j];
      for (let a = catalog.attrIndptr[j]; a < catalog.attrIndptr[j + 1]; a++) attrAff += attrShare.get(catalog.attrIds[a]) ?? 0;
      const price = catalog.price[j];
      const priceKnown = !Number.isNaN(price) && !Number.isNaN(medianPrice) && price > 0 && medianPrice > 0;
      const first = popularity.firstSeen[j];
      const lastSeen = popularity.lastSeen[j];
      const marked = this.mark[j] === 1;

      out[o] = score;
      out[o + 1] = retrievalRank ? retrievalRank[r] / Math.max(1, n) : r / Math.max(1, n);
      out[o + 2] = marked ? this.knnSum[j] * histNorm : 0;
      out[o + 3] = marked ? this.knnMax[j] : 0;
      out[o + 4] = marked ? this.knnRecent[j] : 0;
      out[o + 5] = marked ? this.knnLast[j] : 0;
      out[o + 6] = cosLast;
      out[o + 7] = Math.log1p(popularity.count[j]);
      out[o + 8] = Math.log1p(popularity.trending[j]);
      // Item ages are properties of the bundle's snapshot, so they are taken at its data end: a
      // bundle served weeks after its build still describes items as training saw them.
      out[o + 9] = Number.isNaN(first) ? 0 : Math.log1p(Math.max(0, popularity.referenceTime - first) / DAY);
      out[o + 10] = Number.isNaN(lastSeen) ? Math.log1p(365) : Math.log1p(Math.max(0, popularity.referenceTime - lastSeen) / DAY);
      out[o + 11] = catalog.category[j] >= 0 ? (catShare.get(catalog.category[j]) ?? 0) : 0;
      out[o + 12] = na > 0 ? attrAff / na : 0;
      out[o + 13] = priceKnown ? Math.log(price / medianPrice) : 0;
      out[o + 14] = priceKnown ? 1 : 0;
      out[o + 15] = histLen;
      out[o + 16] = userIdle;
      out[o + 17] = marked ? this.ruleConf[j] : 0;
      out[o + 18] = marked ? Math.log1p(this.ruleLift[j]) : 0;
      for (let u = 0; u < userOneHot.length; u++) out[o + 19 + u] = userOneHot[u];
    }

    for (const j of this.touched) {
      this.mark[j] = 0;
      this.knnSum[j] = 0;
      this.knnMax[j] = 0;
      this.knnRecent[j] = 0;
      this.knnLast[j] = 0;
      this.ruleConf[j] = 0;
      this.ruleLift[j] = 0;
    }
    this.touched.length = 0;
    return out;
  }
}
