import { eventTypeCode, type EventColumns } from '../data/types.js';
import type { AssociationRules, RuleParams } from '../model/rules.js';

export const DEFAULT_RULES: RuleParams = {
  minPairCount: 3,
  minConfidence: 0.02,
  minLift: 1.5,
  maxPerItem: 50,
  maxTransactionItems: 50,
};

/**
 * Co-purchase rules. A transaction is one shopper's session (or calendar day when events carry no
 * session) restricted to carts and purchases when the data has purchases, else all interactions.
 */
export function mineRules(
  events: EventColumns,
  idx: Int32Array,
  numItems: number,
  params: RuleParams = DEFAULT_RULES,
): AssociationRules {
  const purchase = eventTypeCode('purchase');
  const cart = eventTypeCode('cart');
  let hasPurchases = false;
  for (const e of idx) if (events.type[e] === purchase) hasPurchases = true;

  const baskets = new Map<string, Set<number>>();
  for (const e of idx) {
    if (hasPurchases && events.type[e] !== purchase && events.type[e] !== cart) continue;
    const session = events.context[e]?.session;
    const key = `${events.user[e]}|${session ?? Math.floor(events.timestamp[e] / 86400)}`;
    let b = baskets.get(key);
    if (!b) baskets.set(key, (b = new Set()));
    if (b.size < params.maxTransactionItems) b.add(events.item[e]);
  }

  const itemCount = new Float64Array(numItems);
  const pairCount = new Map<number, number>();
  for (const b of baskets.values()) {
    const items = Array.from(b).sort((x, y) => x - y);
    for (const i of items) itemCount[i]++;
    for (let a = 0; a < items.length; a++) {
      for (let c = a + 1; c < items.length; c++) {
        const key = items[a] * numItems + items[c];
        pairCount.set(key, (pairCount.get(key) ?? 0) + 1);
      }
    }
  }

  const N = baskets.size;
  const perItem: { j: number; s: number; c: number; l: number }[][] = Array.from({ length: numItems }, () => []);
  for (const [key, n] of pairCount) {
    if (n < params.minPairCount) continue;
    const a = Math.floor(key / numItems);
    const b = key - a * numItems;
    for (const [x, y] of [
      [a, b],
      [b, a],
    ]) {
      const conf = n / itemCount[x];
      const lift = conf / (itemCount[y] / N);
      if (conf >= params.minConfidence && lift >= params.minLift) perItem[x].push({ j: y, s: n / N, c: conf, l: lift });
    }
  }

  const indptr = new Int32Array(numItems + 1);
  const consequent: number[] = [];
  const support: number[] = [];
  const confidence: number[] = [];
  const lift: number[] = [];
  for (let i = 0; i < numItems; i++) {
    const rules = perItem[i].sort((x, y) => y.c - x.c || y.l - x.l || x.j - y.j).slice(0, params.maxPerItem);
    for (const r of rules) {
      consequent.push(r.j);
      support.push(r.s);
      confidence.push(r.c);
      lift.push(r.l);
    }
    indptr[i + 1] = consequent.length;
  }
  return {
    numItems,
    transactions: N,
    basis: hasPurchases ? 'carts and purchases per session (or day)' : 'all interactions per user-day',
    params,
    indptr,
    consequent: Int32Array.from(consequent),
    support: Float32Array.from(support),
    confidence: Float32Array.from(confidence),
    lift: Float32Array.from(lift),
  };
}
