import type { EncodedCatalog } from '../data/catalog.js';
import type { UserHistory } from '../data/history.js';
import { ownAffinities } from '../model/profile.js';

/** How many of a shopper's favourite categories an offer limited to categories is matched against. */
const FAVOURITE_CATEGORIES = 3;

/**
 * The categories an offer must match when there is no basket: the shopper's own favourite ones.
 * The `promotion` call, batch-score --promotions and the simulator all take them from here.
 */
export function favouriteCategories(h: UserHistory, catalog: EncodedCatalog): string[] {
  return ownAffinities(h, catalog, 'category', FAVOURITE_CATEGORIES).map((a) => a.name);
}
