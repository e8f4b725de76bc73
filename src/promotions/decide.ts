import type { PromotionSpec } from '../data/promotions.js';
import type { Rng } from '../util/rng.js';
import { armStats, NONE } from './arms.js';
import { type Arm, type BanditSettings, Posterior, thompson, thompsonProbabilities } from './bandit.js';

/** What a decision knows of the shopper: computed by the same code online, in batch and in the simulator. */
export interface PromotionContext {
  /** The shopper's segment (-1: no history to place them by). */
  segment: number;
  segmentLabel: string;
  /** The basket's categories, or (without a basket) the shopper's own favourite ones. */
  categories: string[];
  /** The basket's value, when a basket was given. */
  basket: number | undefined;
  /** Unix seconds. */
  now: number;
}

export interface Decision {
  /** The arm chosen: a promotion id, or `none`. */
  arm: string;
  /** What to show: the chosen offer first, then (with k > 1) the next best that beat showing nothing. */
  shown: PromotionSpec[];
  /** The counter segment the decision learns in (`new` for shoppers without a segment). */
  segmentKey: string;
  /** The exploration floor chose it (rather than the posterior). */
  explored: boolean;
  /** The chance this policy had of choosing this arm: logged for off-policy evaluation. */
  propensity: number;
  reason: string;
}

export const segmentKeyOf = (segment: number): string => (segment >= 0 ? String(segment) : 'new');

/** Why a promotion may not be shown in this context, or undefined when it may. */
export function ineligibility(p: PromotionSpec, ctx: PromotionContext, redeemed: number): string | undefined {
  if (ctx.now < p.start) return 'not started';
  if (ctx.now >= p.end) return 'ended';
  if (redeemed >= p.budget) return 'budget spent';
  if (p.segments.length > 0 && !p.segments.some((s) => s === String(ctx.segment) || s === ctx.segmentLabel))
    return 'for other segments';
  if (p.categories.length > 0 && !p.categories.some((c) => ctx.categories.includes(c))) return 'for other categories';
  // "Spend X, save Y" is shown to move a basket up to X; any other minimum is one the basket must reach.
  if (p.kind !== 'amount_off_over' && p.minBasket > 0 && !(ctx.basket !== undefined && ctx.basket >= p.minBasket))
    return 'basket below its minimum';
  return undefined;
}

/** The arms a decision chooses among: showing nothing, and every offer eligible in this context. */
export function armsFor(
  catalogue: readonly PromotionSpec[],
  ctx: PromotionContext,
  counter: Readonly<Record<string, number>>,
  redemptions: Readonly<Record<string, number>>,
): Arm[] {
  const arms: Arm[] = [{ id: NONE, promotion: null, stats: armStats(counter, NONE) }];
  for (const p of catalogue)
    if (ineligibility(p, ctx, redemptions[p.id] ?? 0) === undefined)
      arms.push({ id: p.id, promotion: p, stats: armStats(counter, p.id) });
  return arms;
}

/** Draws used to estimate a decision's propensity: ±0.03 at worst, enough to weigh it by. */
const PROPENSITY_DRAWS = 200;

/** Thompson sampling over the eligible arms of the shopper's segment. */
export function decide(
  arms: Arm[],
  ctx: PromotionContext,
  settings: BanditSettings,
  rng: Rng,
  k = 1,
  draws = PROPENSITY_DRAWS,
): Decision {
  const posterior = new Posterior(arms);
  const { arm, explored } = thompson(posterior, settings, rng);
  const propensity = thompsonProbabilities(posterior, settings, rng, draws)[arm];
  const shown: PromotionSpec[] = [];
  const chosen = arms[arm];
  if (chosen.promotion) {
    shown.push(chosen.promotion);
    // Further offers, best first, while they are expected to earn more than showing nothing.
    const none = posterior.mean(0);
    const rest = arms
      .map((a, j) => ({ a, mean: posterior.mean(j) }))
      .filter(({ a, mean }) => a.promotion && a !== chosen && mean > none)
      .sort((x, y) => y.mean - x.mean);
    for (const { a } of rest.slice(0, k - 1)) shown.push(a.promotion!);
  }
  return {
    arm: chosen.id,
    shown,
    segmentKey: segmentKeyOf(ctx.segment),
    explored,
    propensity,
    reason: explain(posterior, arm, ctx, explored),
  };
}

/**
 * A decision an experiment's variant imposes: the offer `id` when it is eligible here, else nothing
 * (`none` always shows nothing). Its propensity is 1: the variant, not chance, chose it.
 */
export function decideFixed(arms: Arm[], ctx: PromotionContext, id: string): Decision {
  const chosen = arms.find((a) => a.id === id) ?? arms[0];
  const reason = chosen.promotion
    ? `this shopper's experiment variant always shows ${chosen.promotion.label}`
    : id === NONE
      ? "this shopper's experiment variant shows no offer"
      : `this shopper's experiment variant shows ${id}, which is not eligible here: nothing shown`;
  return {
    arm: chosen.id,
    shown: chosen.promotion ? [chosen.promotion] : [],
    segmentKey: segmentKeyOf(ctx.segment),
    explored: false,
    propensity: 1,
    reason,
  };
}

/** Decisions below this, for an arm, make its figures too thin to quote. */
const FEW = 30;

function explain(p: Posterior, j: number, ctx: PromotionContext, explored: boolean): string {
  const who = ctx.segment >= 0 ? `shoppers in "${ctx.segmentLabel}"` : 'new shoppers';
  const a = p.arms[j];
  const name = a.promotion ? a.promotion.label : 'nothing';
  if (explored)
    return `exploring: a share of decisions is made at random, so every offer keeps being measured (${name})`;
  if (a.stats.decisions < FEW)
    return `learning: few ${who} have been shown ${name} yet (${a.stats.decisions}); it may do best`;
  const rate = (x: Arm): number => x.stats.conversions / Math.max(1, x.stats.decisions);
  const none = p.arms[0];
  const worth = (x: number): string => x.toFixed(2);
  if (!a.promotion)
    return `no offer has earned ${who} more than it costs: shown nothing, ${(100 * rate(a)).toFixed(1)}% ordered, worth ${worth(p.mean(0))} per decision`;
  if (none.stats.decisions < FEW || rate(none) === 0)
    return `${who} order after ${name} ${(100 * rate(a)).toFixed(1)}% of the time (${a.stats.conversions} of ${a.stats.decisions}), worth ${worth(p.mean(j))} per decision after the discount`;
  return `${who} order ${(rate(a) / rate(none)).toFixed(1)}× as often after ${name} as after nothing (${a.stats.conversions} of ${a.stats.decisions} against ${none.stats.conversions} of ${none.stats.decisions}), worth ${worth(p.mean(j))} per decision after the discount against ${worth(p.mean(0))}`;
}
