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
  const order = Array.from({ length: h.items.length }, (_, j) => j);
  order.sort((a, b) => h.lastTime[b] - h.lastTime[a] || b - a);
  return Int32Array.from(order.slice(0, limit), (j) => h.items[j]);
}
