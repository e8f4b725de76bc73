import { AliasTable, Rng } from '../../util/rng.js';
import type { SyntheticConfig } from './config.js';

const CATEGORY_NAMES = [
  'Skincare',
  'Makeup',
  'Fragrance',
  'Haircare',
  'Shoes',
  'Dresses',
  'Outerwear',
  'Bags',
  'Jewellery',
  'Watches',
  'Sportswear',
  'Kitchen',
  'Bedding',
  'Lighting',
  'Toys',
  'Books',
  'Audio',
  'Phones',
  'Laptops',
  'Gaming',
  'Garden',
  'Pet',
  'Baby',
  'Grocery',
];
const ADJECTIVES = [
  'Classic',
  'Urban',
  'Pure',
  'Bold',
  'Soft',
  'Bright',
  'Nordic',
  'Vivid',
  'Calm',
  'Prime',
  'Wild',
  'Daily',
];
const NOUNS = ['Edition', 'Series', 'Set', 'Line', 'Collection', 'Pack', 'Essential', 'Select'];
export const AGE_BANDS = ['18-24', '25-34', '35-44', '45-54', '55-64', '65+'];
export const REGIONS = ['north', 'south', 'east', 'west', 'central', 'coast'];

export interface SyntheticItem {
  id: string;
  category: number;
  brand: number;
  vec: Float64Array;
  quality: number;
  price: number;
  /** log(price) minus the category's mean log price: what price-sensitive users react to. */
  relPrice: number;
  exposure: number;
  available: boolean;
  attributes: string[];
  text: string;
}

export interface SyntheticUser {
  id: string;
  taste: Float64Array;
  priceSensitivity: number;
  activity: number;
  ageBand: string;
  gender: string;
  region: string;
  /** Preferred categories as a distribution, used to pick where browsing starts. */
  categoryPref: AliasTable;
  /** The one or two favourite categories that distribution is built around. */
  favourites: number[];
}

export interface Promotion {
  id: string;
  week: number;
  /** Category index, or -1 when the promotion targets one item. */
  category: number;
  item: number;
  discount: number;
}

export interface World {
  config: SyntheticConfig;
  categoryNames: string[];
  brandNames: string[][];
  items: SyntheticItem[];
  users: SyntheticUser[];
  itemsByCategory: number[][];
  /** Exposure within each category, for browsing that stays in a category. */
  categoryExposure: AliasTable[];
  globalExposure: AliasTable;
  promotions: Promotion[];
}

/** Taste weight in the utility: large enough that preference, not just exposure, drives behaviour. */
export const TASTE_SCALE = 1.6;

/** The part of utility a user would state as preference: taste match, quality, price fit; no promotion, no exposure. */
export function trueUtility(u: SyntheticUser, it: SyntheticItem, dim: number): number {
  let dot = 0;
  for (let k = 0; k < dim; k++) dot += u.taste[k] * it.vec[k];
  return (TASTE_SCALE * dot) / Math.sqrt(dim) + it.quality - u.priceSensitivity * it.relPrice;
}

function unitNormal(rng: Rng, dim: number, scale: number): Float64Array {
  const v = new Float64Array(dim);
  for (let k = 0; k < dim; k++) v[k] = rng.normal() * scale;
  return v;
}

/** Categories with their taste centroids, popularity weights, price levels and brands. */
interface Categories {
  names: string[];
  centroids: Float64Array[];
  weight: number[];
  price: number[];
  brandNames: string[][];
  brandQuality: number[][];
}

function buildCategories(config: SyntheticConfig, catRng: Rng): Categories {
  const { dim } = config;
  const C = config.categories;
  const names = Array.from({ length: C }, (_, k) => CATEGORY_NAMES[k] ?? `Category ${k + 1}`);
  const centroids = Array.from({ length: C }, () => unitNormal(catRng, dim, 1));
  const weight = Array.from({ length: C }, (_, k) => 1 / Math.pow(k + 1, 0.7));
  const price = Array.from({ length: C }, () => 2.3 + catRng.next() * 2.7);
  const brandNames = names.map((name) =>
    Array.from(
      { length: config.brandsPerCategory },
      (_, b) => `${name.slice(0, 3).toUpperCase()}-${String.fromCharCode(65 + (b % 26))}${b >= 26 ? b : ''}`,
    ),
  );
  const brandQuality = names.map(() => Array.from({ length: config.brandsPerCategory }, () => catRng.normal() * 0.35));

  return { names, centroids, weight, price, brandNames, brandQuality };
}

/**
 * Items: every category gets at least one; popularity (exposure) is Zipf over a random order, so it is
 * long-tailed and only loosely tied to quality, like a real catalogue.
 */
function buildItems(
  config: SyntheticConfig,
  cats: Categories,
  itemRng: Rng,
): { items: SyntheticItem[]; itemsByCategory: number[][] } {
  const { dim } = config;
  const C = config.categories;
  const { centroids, brandNames, brandQuality } = cats;
  const categoryNames = cats.names;
  const catPrice = cats.price;
  const catTable = new AliasTable(cats.weight);
  const popularityRank = itemRng.shuffle(Array.from({ length: config.items }, (_, i) => i));
  const items: SyntheticItem[] = [];
  const itemsByCategory: number[][] = categoryNames.map(() => []);
  for (let i = 0; i < config.items; i++) {
    const category = i < C ? i : catTable.sample(itemRng);
    const brand = itemRng.int(config.brandsPerCategory);
    const vec = unitNormal(itemRng, dim, 0.75);
    for (let k = 0; k < dim; k++) vec[k] += centroids[category][k] * 0.8;
    const quality = itemRng.normal() * 0.5 + brandQuality[category][brand];
    const logPrice = catPrice[category] + itemRng.normal() * 0.45 + 0.15 * quality;
    const price = Math.max(0.99, Math.round(Math.exp(logPrice) * 100) / 100);
    let styleDim = 0;
    for (let k = 1; k < dim; k++) if (Math.abs(vec[k]) > Math.abs(vec[styleDim])) styleDim = k;
    const style = `style:${styleDim}${vec[styleDim] >= 0 ? '+' : '-'}`;
    const relPrice = Math.log(price) - catPrice[category];
    const tier = relPrice < -0.3 ? 'tier:budget' : relPrice > 0.3 ? 'tier:premium' : 'tier:mid';
    const exposure = Math.exp(0.3 * quality) / Math.pow(popularityRank[i] + 1, 0.85);
    const text = `${brandNames[category][brand]} ${ADJECTIVES[itemRng.int(ADJECTIVES.length)]} ${categoryNames[category]} ${NOUNS[itemRng.int(NOUNS.length)]}`;
    items.push({
      id: `i${i + 1}`,
      category,
      brand,
      vec,
      quality,
      price,
      relPrice,
      exposure,
      available: itemRng.next() > 0.03,
      attributes: [style, tier],
      text,
    });
    itemsByCategory[category].push(i);
  }

  return { items, itemsByCategory };
}

/** Users: taste around one or two favourite categories, shifted by age band so that demographics carry signal for cold start; heavy-tailed activity. */
function buildUsers(config: SyntheticConfig, cats: Categories, userRng: Rng): SyntheticUser[] {
  const { dim } = config;
  const { centroids } = cats;
  const catWeight = cats.weight;
  const catTable = new AliasTable(catWeight);
  const ageShift = AGE_BANDS.map(() => unitNormal(userRng, dim, 0.4));
  const users: SyntheticUser[] = [];
  for (let u = 0; u < config.users; u++) {
    const fav1 = catTable.sample(userRng);
    const fav2 = catTable.sample(userRng);
    const w2 = userRng.next() < 0.5 ? 0.5 : 0;
    const band = userRng.int(AGE_BANDS.length);
    const taste = unitNormal(userRng, dim, 0.45);
    for (let k = 0; k < dim; k++) taste[k] += centroids[fav1][k] + w2 * centroids[fav2][k] + ageShift[band][k];
    const pref = catWeight.map((w, k) => w * 0.15 + (k === fav1 ? 3 : 0) + (k === fav2 ? 3 * w2 : 0));
    users.push({
      id: `u${u + 1}`,
      taste,
      priceSensitivity: Math.exp(userRng.normal() * 0.5) * 0.8,
      activity: Math.exp(userRng.normal() * 0.8 - 0.32),
      ageBand: AGE_BANDS[band],
      gender: userRng.next() < 0.55 ? 'F' : 'M',
      region: REGIONS[userRng.int(REGIONS.length)],
      categoryPref: new AliasTable(pref),
      favourites: w2 > 0 && fav2 !== fav1 ? [fav1, fav2] : [fav1],
    });
  }

  return users;
}

function buildPromotions(config: SyntheticConfig, cats: Categories, promoRng: Rng): Promotion[] {
  const catTable = new AliasTable(cats.weight);
  const promotions: Promotion[] = [];
  for (let w = 0; w < config.weeks; w++) {
    for (let p = 0; p < config.promotionsPerWeek; p++) {
      const wholeCategory = promoRng.next() < 0.4;
      promotions.push({
        id: `P${w + 1}-${p + 1}`,
        week: w,
        category: wholeCategory ? catTable.sample(promoRng) : -1,
        item: wholeCategory ? -1 : promoRng.int(config.items),
        discount: wholeCategory ? 0.1 + 0.05 * promoRng.int(5) : 0.2 + 0.05 * promoRng.int(7),
      });
    }
  }
  return promotions;
}

export function buildWorld(config: SyntheticConfig): World {
  const rng = new Rng(config.seed);
  const cats = buildCategories(config, rng.fork(1));
  const { items, itemsByCategory } = buildItems(config, cats, rng.fork(2));
  const users = buildUsers(config, cats, rng.fork(3));
  const promotions = buildPromotions(config, cats, rng.fork(4));
  const categoryNames = cats.names;
  const brandNames = cats.brandNames;
  return {
    config,
    categoryNames,
    brandNames,
    items,
    users,
    itemsByCategory,
    categoryExposure: itemsByCategory.map((list) => new AliasTable(list.map((i) => items[i].exposure))),
    globalExposure: new AliasTable(items.map((it) => it.exposure)),
    promotions,
  };
}
