import type { UserItems } from './interactions.js';
import { eventTypeCode, type EventColumns } from './types.js';

/**
 * What Vitrine knows about one shopper: distinct items with how often and when last each was
 * touched, plus totals. Training, batch scoring and online serving all describe a user this way, so
 * features come out the same everywhere.
 */
export interface UserHistory {
  items: Int32Array;
  counts: Float32Array;
  lastTime: Float64Array;
  events: number;
  /** Sum of price × quantity over purchases (0 when prices are unknown). */
  spend: number;
  lastEventTime: number;
}

export interface UserTotals {
  events: Float32Array;
  spend: Float64Array;
  lastEventTime: Float64Array;
}

export function userTotals(events: EventColumns, idx: Int32Array, numUsers: number): UserTotals {
  const purchase = eventTypeCode('purchase');
  const out: UserTotals = {
    events: new Float32Array(numUsers),
    spend: new Float64Array(numUsers),
    lastEventTime: new Float64Array(numUsers).fill(NaN),
  };
  for (const e of idx) {
    const u = events.user[e];
    out.events[u]++;
    if (events.type[e] === purchase) {
      const p = events.price[e];
      const q = events.quantity[e];
      if (!Number.isNaN(p)) out.spend[u] += p * (Number.isNaN(q) ? 1 : q);
    }
    const t = events.timestamp[e];
    if (!(out.lastEventTime[u] >= t)) out.lastEventTime[u] = t;
  }
  return out;
}

export function historyOf(ui: UserItems, totals: UserTotals, u: number): UserHistory {
  const s = ui.indptr[u];
  const e = ui.indptr[u + 1];
  return {
    items: ui.items.subarray(s, e),
    counts: ui.count.subarray(s, e),
    lastTime: ui.lastTime.subarray(s, e),
    events: totals.events[u],
    spend: totals.spend[u],
    lastEventTime: totals.lastEventTime[u],
  };
}

export const emptyHistory = (): UserHistory => ({
  items: new Int32Array(0),
  counts: new Float32Array(0),
  lastTime: new Float64Array(0),
  events: 0,
  spend: 0,
  lastEventTime: NaN,
});

/** The history's items ordered most recent first (by last interaction; ties keep history order). */
export function recentFirst(h: UserHistory, limit = h.items.length): Int32Array {
  return Int32Array.from(recentOrder(h).slice(0, limit), (j) => h.items[j]);
}

/** The history's most recent baskets: its items most recent first, with each one's basket (0 = the last). */
export interface RecentBaskets {
  items: Int32Array;
  basket: Int32Array;
}

/**
 * The latest baskets: items last touched at one timestamp (an order of several products, a day's
 * reviews) form one basket, so "the latest items" is never an arbitrary slice of the last order. Whole
 * baskets are taken, most recent first, until `minItems` are in (one basket may exceed it), and never
 * more than `maxItems`. `byTime` false: every item is a basket of its own (ties in history order),
 * and exactly `minItems` are taken.
 */
export function recentBaskets(h: UserHistory, minItems: number, byTime = true, maxItems = 4 * minItems): RecentBaskets {
  const order = recentOrder(h);
  const items: number[] = [];
  const basket: number[] = [];
  let b = -1;
  let at = NaN;
  for (const j of order) {
    const t = byTime ? h.lastTime[j] : j;
    if (t !== at) {
      if (items.length >= minItems) break;
      b++;
      at = t;
    }
    if (items.length >= maxItems) break;
    items.push(h.items[j]);
    basket.push(b);
  }
  return { items: Int32Array.from(items), basket: Int32Array.from(basket) };
}

export function recentOrder(h: UserHistory): number[] {
  const order = Array.from({ length: h.items.length }, (_, j) => j);
  return order.sort((a, b) => h.lastTime[b] - h.lastTime[a] || b - a);
}
