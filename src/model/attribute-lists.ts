import type { EncodedCatalog } from '../data/catalog.js';
import { recentOrder, type UserHistory } from '../data/history.js';
import { BestList } from '../util/best-list.js';
import { runAtOnce, type Steps } from '../util/steps.js';

/**
 * The catalogue's tokens (attributes, categories, brands) with each one's most popular items: what
 * the attribute candidate source draws from. Built when a model is loaded, from the catalogue and
 * the popularity the model was trained with, so training, evaluation and serving share it.
 */
export interface AttributeLists {
  /** Each item's tokens (CSR over items). */
  itemIndptr: Int32Array;
  itemTokens: Int32Array;
  /** Rarity of each token: log(items / items with it); a token every item has weighs nothing. */
  idf: Float32Array;
  /** Each token's items, most popular first, at most `perToken` (CSR over tokens). */
  indptr: Int32Array;
  items: Int32Array;
  /** log(2 + the item's training events), per item. */
  weight: Float32Array;
  /** Zeroed between calls: per token (a profile's strengths), per item (items met). One per thread, like the model. */
  scratch: { strength: Float64Array; met: Uint8Array };
}

/**
 * Tokens of the shopper's profile that pick the candidates. Beauty's test items among the candidates
 * with 50 places, seed 42 (scratch harness): 0.3363 with the 3 strongest, 0.3354 with 5.
 */
export const PROFILE_TOKENS = 3;
/**
 * Items kept per token: four times the most places the source is given (`--attribute-candidates` is
 * capped at 50 by it). An item past this in every one of the profile's lists is not offered, however
 * well it matches: the price of lists a few hundred long rather than the catalogue.
 */
export const ITEMS_PER_TOKEN = 200;
/** Catalogue items read between two yields of attributeListSteps (~10 ms on the 100k-item bench bundle). */
const ITEMS_PER_STEP = 32_768;
/** The most places the source may be given. */
export const MAX_ATTRIBUTE_CANDIDATES = ITEMS_PER_TOKEN / 4;
/** How much an item counts for less per place further back in the shopper's history. */
const RECENCY = 0.9;

/**
 * Per token its `perToken` most popular items. Items past `counts` (catalogue items the model never
 * saw) count as never bought. Undefined when the catalogue has no tokens.
 */
export function attributeLists(
  catalog: EncodedCatalog,
  counts: ArrayLike<number>,
  perToken: number,
): AttributeLists | undefined {
  return runAtOnce(attributeListSteps(catalog, counts, perToken));
}

/**
 * attributeLists in steps (a thread that serves while its model loads yields between them): every
 * item's tokens a slice of the catalogue at a time, the items by popularity (one sort, not one per
 * token), and each token's list filled from that order.
 */
export function* attributeListSteps(
  catalog: EncodedCatalog,
  counts: ArrayLike<number>,
  perToken: number,
): Steps<AttributeLists | undefined> {
  const n = catalog.numItems;
  const attrs = catalog.attrNames.length;
  const cats = catalog.categoryNames.length;
  const tokens = attrs + cats + catalog.brandNames.length;
  if (tokens === 0) return undefined;
  const itemIndptr = new Int32Array(n + 1);
  const itemTokens: number[] = [];
  const tokenItems = new Int32Array(tokens);
  const add = (i: number, t: number): void => {
    // A tag the catalogue repeats for one item counts once.
    for (let p = itemIndptr[i]; p < itemTokens.length; p++) if (itemTokens[p] === t) return;
    itemTokens.push(t);
    tokenItems[t]++;
  };
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % ITEMS_PER_STEP === 0) yield;
    itemIndptr[i] = itemTokens.length;
    for (let a = catalog.attrIndptr[i]; a < catalog.attrIndptr[i + 1]; a++) add(i, catalog.attrIds[a]);
    if (catalog.category[i] >= 0) add(i, attrs + catalog.category[i]);
    if (catalog.brand[i] >= 0) add(i, attrs + cats + catalog.brand[i]);
  }
  itemIndptr[n] = itemTokens.length;
  const weight = new Float32Array(n);
  for (let i = 0; i < n; i++) weight[i] = Math.log(2 + (i < counts.length ? counts[i] : 0));
  yield;
  const byPopularity = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => weight[b] - weight[a] || a - b);
  yield;
  const indptr = new Int32Array(tokens + 1);
  for (let t = 0; t < tokens; t++) indptr[t + 1] = indptr[t] + Math.min(perToken, tokenItems[t]);
  const items = new Int32Array(indptr[tokens]);
  const filled = indptr.slice(0, tokens);
  for (const i of byPopularity)
    for (let p = itemIndptr[i]; p < itemIndptr[i + 1]; p++) {
      const t = itemTokens[p];
      if (filled[t] < indptr[t + 1]) items[filled[t]++] = i;
    }
  return {
    itemIndptr,
    itemTokens: Int32Array.from(itemTokens),
    idf: Float32Array.from(tokenItems, (c) => Math.log(n / Math.max(1, c))),
    indptr,
    items,
    weight,
    scratch: { strength: new Float64Array(tokens), met: new Uint8Array(n) },
  };
}

/**
 * The shopper's strongest tokens: each item of the history adds its tokens' rarity, the latest
 * fully and 0.9 less per place further back. Strongest first (ties: the lower token), at most
 * PROFILE_TOKENS.
 */
export function profileTokens(lists: AttributeLists, h: UserHistory): { tokens: number[]; weights: number[] } {
  const { strength } = lists.scratch;
  const touched: number[] = [];
  const known = lists.itemIndptr.length - 1;
  let w = 1;
  for (const j of recentOrder(h)) {
    const i = h.items[j];
    if (i < known)
      for (let p = lists.itemIndptr[i]; p < lists.itemIndptr[i + 1]; p++) {
        const t = lists.itemTokens[p];
        // A token every item has says nothing of this shopper.
        if (lists.idf[t] <= 0) continue;
        if (strength[t] === 0) touched.push(t);
        strength[t] += w * lists.idf[t];
      }
    w *= RECENCY;
  }
  const best = new BestList(PROFILE_TOKENS);
  for (const t of touched) {
    if (strength[t] > 0) best.offer(t, strength[t]);
    strength[t] = 0;
  }
  return { tokens: best.items, weights: best.scores };
}

/**
 * The `max` items of the shopper's strongest tokens' lists that neither `exclude` nor `skip` holds,
 * best first: each scored by how much of the profile it matches (all its profile tokens, not only
 * the list it was found in) times its popularity weight. A list is popularity-ordered, so it is
 * left where even a full match could no longer beat the best so far.
 */
export function attributeCandidates(
  lists: AttributeLists,
  h: UserHistory,
  exclude: Uint8Array,
  max: number,
  skip?: Set<number>,
): number[] {
  if (max <= 0) return [];
  const { tokens, weights } = profileTokens(lists, h);
  const { strength: profile, met } = lists.scratch;
  let full = 0;
  tokens.forEach((t, k) => {
    profile[t] = weights[k];
    full += weights[k];
  });
  // Headroom for the rounding of a match summed in another order than `full`.
  full *= 1 + 1e-9;
  const best = new BestList(max);
  const visited: number[] = [];
  for (const t of tokens)
    for (let p = lists.indptr[t]; p < lists.indptr[t + 1]; p++) {
      const i = lists.items[p];
      if (full * lists.weight[i] < best.floor) break;
      if (exclude[i] || met[i]) continue;
      met[i] = 1;
      visited.push(i);
      if (skip?.has(i)) continue;
      let match = 0;
      for (let q = lists.itemIndptr[i]; q < lists.itemIndptr[i + 1]; q++) match += profile[lists.itemTokens[q]];
      best.offer(i, match * lists.weight[i]);
    }
  for (const t of tokens) profile[t] = 0;
  for (const i of visited) met[i] = 0;
  return best.items;
}

/** A token as the catalogue names it: an attribute, a category or a brand (the order lists number them in). */
export function tokenName(catalog: EncodedCatalog, t: number): string {
  const attrs = catalog.attrNames.length;
  const cats = catalog.categoryNames.length;
  if (t < attrs) return catalog.attrNames[t];
  return t < attrs + cats ? catalog.categoryNames[t - attrs] : catalog.brandNames[t - attrs - cats];
}
