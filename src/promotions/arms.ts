/** The arm that shows nothing: every decision may choose it, and it is measured like any offer. */
export const NONE = 'none';

/**
 * What the bandit knows of one arm (an offer, or none) in one segment: the decisions that chose
 * it, those credited with an order, and for the credited orders whose value is known, their value
 * before the discount and what the shop kept after it.
 */
export interface ArmStats {
  decisions: number;
  conversions: number;
  valued: number;
  basketSum: number;
  netSum: number;
}

/**
 * The counters live in the state store, one per segment (`promotions:<segment>`), with fields
 * `<arm>|n` (decisions), `|c` (conversions), `|k` (valued conversions), `|b` (their baskets) and
 * `|v` (their net revenue): every replica adds to them and reads them, so all learn together.
 */
export const segmentCounter = (segment: string): string => `promotions:${segment}`;
/** Redemptions per promotion, against the catalogue's budgets. */
export const REDEMPTIONS = 'promotions:redeemed';

export function armStats(counter: Readonly<Record<string, number>>, arm: string): ArmStats {
  const f = (what: string): number => counter[`${arm}|${what}`] ?? 0;
  return { decisions: f('n'), conversions: f('c'), valued: f('k'), basketSum: f('b'), netSum: f('v') };
}

export const decisionDelta = (arm: string): Record<string, number> => ({ [`${arm}|n`]: 1 });

/** A credited conversion; its order when the event said what it was worth. */
export function conversionDelta(arm: string, order?: { basket: number; net: number }): Record<string, number> {
  return order
    ? { [`${arm}|c`]: 1, [`${arm}|k`]: 1, [`${arm}|b`]: order.basket, [`${arm}|v`]: order.net }
    : { [`${arm}|c`]: 1 };
}
