import { dot } from '../util/linalg.js';
import type { FeatureModel } from './features.js';

const DAY = 86400;

/**
 * Per-item values that do not depend on the user, side by side (ITEM_STATIC_WIDTH per item), so a
 * candidate's row costs one or two cache lines instead of one per source array.
 */
export const ITEM_STATIC_WIDTH = 11;
export const S_LOG_POP = 0;
export const S_LOG_TREND = 1;
export const S_AGE = 2;
export const S_IDLE = 3;
export const S_PRICE = 4;
export const S_NORM = 5;
export const S_CATEGORY = 6;
export const S_ATTR_START = 7;
export const S_ATTR_END = 8;
export const S_REPEAT = 9;
export const S_CYCLE = 10;

export function staticItemFeatures(model: FeatureModel): Float32Array {
  const { catalog, popularity, itemFactors, factors: d } = model;
  const n = catalog.numItems;
  const st = new Float32Array(n * ITEM_STATIC_WIDTH);
  for (let j = 0; j < n; j++) {
    const o = j * ITEM_STATIC_WIDTH;
    const first = popularity.firstSeen[j];
    const last = popularity.lastSeen[j];
    st[o + S_LOG_POP] = Math.log1p(popularity.count[j]);
    st[o + S_LOG_TREND] = Math.log1p(popularity.trending[j]);
    // Item ages are properties of the bundle's snapshot, so they are taken at its data end: a
    // bundle served weeks after its build still describes items as training saw them.
    st[o + S_AGE] = Number.isNaN(first) ? 0 : Math.log1p(Math.max(0, popularity.referenceTime - first) / DAY);
    st[o + S_IDLE] = Number.isNaN(last)
      ? Math.log1p(365)
      : Math.log1p(Math.max(0, popularity.referenceTime - last) / DAY);
    st[o + S_PRICE] = catalog.price[j];
    st[o + S_NORM] = Math.sqrt(dot(itemFactors, j * d, itemFactors, j * d, d));
    st[o + S_CATEGORY] = catalog.category[j];
    st[o + S_ATTR_START] = catalog.attrIndptr[j];
    st[o + S_ATTR_END] = catalog.attrIndptr[j + 1];
    st[o + S_REPEAT] = popularity.repeatShare[j];
    const cycle = popularity.repeatDays[j];
    st[o + S_CYCLE] = Number.isNaN(cycle) ? 0 : Math.log1p(cycle);
  }
  return st;
}
