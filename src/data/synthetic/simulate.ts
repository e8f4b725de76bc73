import { Rng } from '../../util/rng.js';
import { trueUtility, type World } from './world.js';

export const SIM_EVENT_TYPES = ['view', 'click', 'cart', 'purchase'] as const;

/** One simulated event, in dense indices; the writer turns it into a CSV row. */
export interface SimEvent {
  user: number;
  item: number;
  /** Index into SIM_EVENT_TYPES. */
  type: number;
  ts: number;
  quantity: number;
  price: number;
  session: number;
  /** Index into world.promotions, or -1. */
  promotion: number;
}

/** Monday 2026-01-05 00:00 UTC: a fixed start so that output is byte-identical for a seed. */
export const SIM_EPOCH = 1767571200;
const WEEK = 7 * 86400;
const POOL_FROM_CATEGORY = 12;
const POOL_GLOBAL = 4;
const MAX_VIEWS = 12;

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Simulates shopping sessions week by week: each session views items drawn from an exposure pool
 * (popularity within the categories the user likes, plus global best-sellers and promoted items),
 * picked by a softmax over utility; a view may lead to a click, a click to a cart, a cart to a
 * purchase, each with probability rising with utility. Promotions cut the price a price-sensitive
 * shopper sees and draw attention, so they change behaviour. Yields each week's events in time order.
 */
export function* simulate(world: World): Generator<SimEvent[]> {
  const { config, items, users } = world;
  const rng = new Rng(config.seed).fork(5);
  const utility = new Float64Array(items.length);
  let sessionSeq = 0;

  for (let week = 0; week < config.weeks; week++) {
    const discount = new Float64Array(items.length);
    const promoOf = new Int32Array(items.length).fill(-1);
    const promoted: number[] = [];
    world.promotions.forEach((p, pi) => {
      if (p.week !== week) return;
      const targets = p.category >= 0 ? world.itemsByCategory[p.category] : [p.item];
      for (const i of targets) {
        if (p.discount > discount[i]) {
          discount[i] = p.discount;
          promoOf[i] = pi;
        }
      }
      promoted.push(...targets.slice(0, 8));
    });

    const events: SimEvent[] = [];
    const weekStart = SIM_EPOCH + week * WEEK;
    for (let u = 0; u < users.length; u++) {
      const user = users[u];
      const sessions = rng.poisson(config.sessionsPerUserWeek * user.activity);
      for (let s = 0; s < sessions; s++) {
        const session = sessionSeq++;
        let t = weekStart + Math.floor(rng.next() * (WEEK - 7200));
        const views = Math.min(MAX_VIEWS, 1 + rng.poisson(2.5));
        const seen = new Set<number>();
        let category = -1;
        for (let v = 0; v < views; v++) {
          if (category < 0 || rng.next() < 0.3) category = user.categoryPref.sample(rng);
          const pool: number[] = [];
          for (let j = 0; j < POOL_FROM_CATEGORY + POOL_GLOBAL; j++) {
            const list = world.itemsByCategory[category];
            const i =
              j < POOL_FROM_CATEGORY
                ? list[world.categoryExposure[category].sample(rng)]
                : world.globalExposure.sample(rng);
            if (items[i].available && !seen.has(i)) pool.push(i);
          }
          if (promoted.length > 0 && rng.next() < 0.5) {
            const i = promoted[rng.int(promoted.length)];
            if (items[i].available && !seen.has(i)) pool.push(i);
          }
          if (pool.length === 0) continue;

          let maxU = -Infinity;
          for (const i of pool) {
            // A discount lowers the price a sensitive shopper weighs, and the badge draws the eye.
            const promo = discount[i] > 0 ? -user.priceSensitivity * Math.log(1 - discount[i]) + 0.3 : 0;
            utility[i] = trueUtility(user, items[i], config.dim) + promo;
            if (utility[i] > maxU) maxU = utility[i];
          }
          let total = 0;
          for (const i of pool) total += Math.exp(utility[i] - maxU);
          let r = rng.next() * total;
          let chosen = pool[pool.length - 1];
          for (const i of pool) {
            r -= Math.exp(utility[i] - maxU);
            if (r <= 0) {
              chosen = i;
              break;
            }
          }
          seen.add(chosen);
          category = items[chosen].category;

          const U = utility[chosen];
          const price = Math.round(items[chosen].price * (1 - discount[chosen]) * 100) / 100;
          const promotion = promoOf[chosen];
          const base = { user: u, item: chosen, session, promotion, price };
          events.push({ ...base, type: 0, ts: t, quantity: 0 });
          if (rng.next() < sigmoid(0.6 * (U - 5.5))) {
            const tc = t + 3 + rng.int(40);
            events.push({ ...base, type: 1, ts: tc, quantity: 0 });
            if (rng.next() < sigmoid(0.6 * (U - 7))) {
              const quantity = 1 + rng.poisson(0.25);
              const tcart = tc + 10 + rng.int(120);
              events.push({ ...base, type: 2, ts: tcart, quantity });
              if (rng.next() < sigmoid(0.5 * (U - 6.5) + (promotion >= 0 ? 0.5 : 0))) {
                events.push({ ...base, type: 3, ts: tcart + 30 + rng.int(600), quantity });
              }
            }
          }
          t += 20 + rng.int(180);
        }
      }
    }
    // Stable by time: ties keep generation order, so a view never sorts after its own purchase.
    const order = events.map((_, i) => i).sort((a, b) => events[a].ts - events[b].ts || a - b);
    yield order.map((i) => events[i]);
  }
}
