import { createHash } from 'node:crypto';
import type { PromotionSpec } from '../data/promotions.js';
import { armsFor, decide, type PromotionContext, segmentKeyOf } from '../promotions/decide.js';
import { Rng } from '../util/rng.js';

/**
 * What `batch-score --promotions` decides with: the catalogue, the bandit's counts as the store held
 * them when the job started (none without --store: offers are then chosen on their terms and at
 * random), and the clock offers' dates are checked against. Plain data: it is cloned to every worker.
 */
export interface PromotionPlan {
  catalogue: PromotionSpec[];
  /** Counter fields per segment key (`0`, `1`, ..., `new`). */
  counters: Record<string, Record<string, number>>;
  redemptions: Record<string, number>;
  exploration: number;
  /** Unix seconds. */
  now: number;
  seed: number;
}

/** The offer, if any, for one shopper in an e-mail campaign. */
export interface ChosenPromotion {
  id: string;
  label: string;
  code?: string;
  propensity: number;
}

/** Fewer draws than a live decision's: a campaign decides for every shopper at once. */
const PROPENSITY_DRAWS = 100;

/**
 * Thompson sampling as `promotion` does it, with a random stream of the shopper's own (seed and id),
 * so a block scored twice (a resumed run) chooses the same offers.
 */
export function choosePromotion(plan: PromotionPlan, ctx: PromotionContext, user: string): ChosenPromotion | null {
  const key = segmentKeyOf(ctx.segment);
  const arms = armsFor(plan.catalogue, ctx, plan.counters[key] ?? {}, plan.redemptions);
  const seed = createHash('sha256').update(`${plan.seed}\u0000${user}`).digest().readUInt32LE(0);
  const d = decide(arms, ctx, { exploration: plan.exploration }, new Rng(seed), 1, PROPENSITY_DRAWS);
  const p = d.shown[0];
  if (!p) return null;
  return {
    id: p.id,
    label: p.label,
    ...(p.code !== undefined && { code: p.code }),
    propensity: Math.round(d.propensity * 1e4) / 1e4,
  };
}

/** What identifies a plan in a job's signature: the catalogue and the policy's settings, not the counts of the moment. */
export function planSignature(plan: PromotionPlan | undefined): string | null {
  return plan
    ? createHash('sha256')
        .update(
          JSON.stringify([plan.catalogue, plan.exploration, plan.seed], (_, v) =>
            typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
          ),
        )
        .digest('hex')
    : null;
}
