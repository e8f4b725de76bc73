import { netRevenue, type PromotionSpec } from '../promotions.js';
import type { World } from './world.js';

/**
 * How the synthetic world's shoppers answer an offer: the ground truth the promotion simulator
 * plays policies against, and which no policy sees. A shopper's chance to buy in the attribution
 * window rises (on the log-odds scale) with the discount, times their responsiveness: their price
 * sensitivity, damped for frequent shoppers (who would mostly buy anyway, so a discount to them is
 * mostly given away). An offer on a category they do not favour hardly moves them. Free shipping
 * matters most on small orders; "spend X, save Y" moves only those whose usual order is near X,
 * and they then top their order up to X.
 */
export interface PromotionResponse {
  /** The chance shopper `u` orders within the window after being shown `p` (null: nothing shown). */
  conversion(u: number, p: PromotionSpec | null): number;
  /** The value of that order before any discount. */
  basket(u: number, p: PromotionSpec | null): number;
  /** What showing `p` earns the shop on average: conversion × (order − discount − cost). */
  expected(u: number, p: PromotionSpec | null): number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
/** Log-odds of an order per unit of (responsiveness × fraction off). */
const LIFT = 3.5;

export function promotionResponse(world: World): PromotionResponse {
  const median = medianPriceByCategory(world);
  const users = world.users.map((u) => {
    const usual = Math.round(median[u.favourites[0]] * (1 + 0.3 * Math.min(u.activity, 4)) * 100) / 100;
    return {
      base: -3 + 0.5 * Math.log(u.activity),
      responsiveness: u.priceSensitivity / (1 + u.activity),
      usual,
      favourites: new Set(u.favourites.map((c) => world.categoryNames[c])),
    };
  });
  const reach = (u: number, p: PromotionSpec): number =>
    p.categories.length === 0 ? 1 : p.categories.some((c) => users[u].favourites.has(c)) ? 1.3 : 0.1;
  const basket = (u: number, p: PromotionSpec | null): number => {
    const usual = users[u].usual;
    return p?.kind === 'amount_off_over' && usual >= 0.6 * p.minBasket ? Math.max(usual, p.minBasket) : usual;
  };
  const lift = (u: number, p: PromotionSpec): number => {
    const s = users[u];
    if (p.kind === 'percent_off') return LIFT * s.responsiveness * (p.value / 100) * reach(u, p);
    if (p.kind === 'coupon') return 0.8 * LIFT * s.responsiveness * (p.value / 100) * reach(u, p);
    if (p.kind === 'amount_off_over')
      return s.usual >= 0.6 * p.minBasket ? LIFT * s.responsiveness * (p.value / basket(u, p)) * reach(u, p) : 0;
    return 1.5 * s.responsiveness * Math.exp(-s.usual / 40) * reach(u, p);
  };
  const conversion = (u: number, p: PromotionSpec | null): number => sigmoid(users[u].base + (p ? lift(u, p) : 0));
  return {
    conversion,
    basket,
    expected: (u, p) => conversion(u, p) * netRevenue(p, basket(u, p)),
  };
}

function medianPriceByCategory(world: World): number[] {
  return world.itemsByCategory.map((list) => {
    const prices = list.map((i) => world.items[i].price).sort((a, b) => a - b);
    return prices.length > 0 ? prices[Math.floor(prices.length / 2)] : 20;
  });
}

/**
 * The synthetic shop's offers: one of each kind for everyone, and a deeper discount on each of the
 * two categories most shoppers favour. None has dates or a budget, so every policy in the simulator
 * always has the same offers to choose from.
 */
export function campaignCatalogue(world: World): PromotionSpec[] {
  const median = medianPriceByCategory(world);
  const typical = [...median].sort((a, b) => a - b)[Math.floor(median.length / 2)];
  const favouredBy = new Array<number>(world.categoryNames.length).fill(0);
  for (const u of world.users) for (const c of u.favourites) favouredBy[c]++;
  const top = favouredBy
    .map((n, c) => [n, c])
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, 2)
    .map(([, c]) => world.categoryNames[c]);
  const open = { segments: [], start: -Infinity, end: Infinity, budget: Infinity };
  const spend = Math.round(typical * 1.5);
  const save = Math.max(1, Math.round(spend * 0.15));
  return [
    { ...open, id: 'TEN', kind: 'percent_off', value: 10, minBasket: 0, categories: [], cost: 0, label: '10% off' },
    { ...open, id: 'TWENTY', kind: 'percent_off', value: 20, minBasket: 0, categories: [], cost: 0, label: '20% off' },
    {
      ...open,
      id: 'SPEND',
      kind: 'amount_off_over',
      value: save,
      minBasket: spend,
      categories: [],
      cost: 0,
      label: `${save} off when you spend ${spend}`,
    },
    {
      ...open,
      id: 'SHIP',
      kind: 'free_shipping',
      value: 0,
      minBasket: 0,
      categories: [],
      cost: 4.9,
      label: 'free shipping',
    },
    {
      ...open,
      id: 'WELCOME',
      kind: 'coupon',
      value: 15,
      minBasket: 0,
      categories: [],
      cost: 0,
      code: 'WELCOME15',
      label: '15% off with WELCOME15',
    },
    ...top.map(
      (name, j): PromotionSpec => ({
        ...open,
        id: `CAT${j + 1}`,
        kind: 'percent_off',
        value: 25,
        minBasket: 0,
        categories: [name],
        cost: 0,
        label: `25% off ${name}`,
      }),
    ),
  ];
}
