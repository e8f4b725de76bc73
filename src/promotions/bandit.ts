import { netRevenue, type PromotionSpec } from '../data/promotions.js';
import type { Rng } from '../util/rng.js';
import type { ArmStats } from './arms.js';

/** One arm as a decision sees it: the offer (null: show nothing) and what its segment has learnt of it. */
export interface Arm {
  id: string;
  promotion: PromotionSpec | null;
  stats: ArmStats;
}

export interface BanditSettings {
  /** The exploration floor: this share of decisions picks uniformly among the eligible arms. */
  exploration: number;
}

export const DEFAULT_BANDIT: BanditSettings = { exploration: 0.02 };

/** Pseudo-decisions behind each arm's prior: the segment's pooled conversion rate, held lightly. */
const PRIOR_DECISIONS = 2;
/** Pseudo-orders behind each arm's value prior (its offer's net revenue on the segment's typical order). */
const PRIOR_ORDERS = 2;

/**
 * The posterior of each arm's net revenue per decision: a Beta over its conversion rate (prior: the
 * segment's rate over all arms) times the value of a conversion (prior: what the shop keeps of the
 * segment's average order under this offer, from the catalogue's terms; then the orders it earned).
 * Value is held at its posterior mean: with orders counted in the tens, the rate is what is uncertain.
 */
export class Posterior {
  private readonly alpha: number[];
  private readonly beta: number[];
  readonly value: number[];

  constructor(readonly arms: readonly Arm[]) {
    let n = 0;
    let c = 0;
    let k = 0;
    let b = 0;
    for (const a of arms) {
      n += a.stats.decisions;
      c += a.stats.conversions;
      k += a.stats.valued;
      b += a.stats.basketSum;
    }
    const rate = (c + 1) / (n + 2);
    // With no valued order yet, values are in units of one order: offers compare by their terms.
    const basket = k > 0 ? b / k : 1;
    this.alpha = arms.map((a) => rate * PRIOR_DECISIONS + a.stats.conversions);
    this.beta = arms.map((a) => (1 - rate) * PRIOR_DECISIONS + Math.max(0, a.stats.decisions - a.stats.conversions));
    this.value = arms.map((a) => {
      const prior = netRevenue(a.promotion, basket);
      return (a.stats.netSum + PRIOR_ORDERS * prior) / (a.stats.valued + PRIOR_ORDERS);
    });
  }

  /** Expected net revenue per decision. */
  mean(j: number): number {
    return (this.alpha[j] / (this.alpha[j] + this.beta[j])) * this.value[j];
  }

  /**
   * The conversion rate's posterior: its mean and a 95% credible interval (the Beta's mean ± 1.96
   * standard deviations, clipped to [0, 1]: close enough to its quantiles to draw by).
   */
  rate(j: number): { mean: number; lo: number; hi: number } {
    const a = this.alpha[j];
    const b = this.beta[j];
    const mean = a / (a + b);
    const sd = Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1)));
    return { mean, lo: Math.max(0, mean - 1.96 * sd), hi: Math.min(1, mean + 1.96 * sd) };
  }

  sample(j: number, rng: Rng): number {
    return rng.beta(this.alpha[j], this.beta[j]) * this.value[j];
  }

  /** The Thompson draw: the arm whose sampled value is highest. */
  draw(rng: Rng): number {
    let best = 0;
    let bestValue = -Infinity;
    for (let j = 0; j < this.arms.length; j++) {
      const v = this.sample(j, rng);
      if (v > bestValue) {
        bestValue = v;
        best = j;
      }
    }
    return best;
  }

  /** The arm with the highest posterior mean (the greedy choice). */
  best(): number {
    let best = 0;
    for (let j = 1; j < this.arms.length; j++) if (this.mean(j) > this.mean(best)) best = j;
    return best;
  }
}

/** Thompson sampling with the exploration floor: which arm, and whether the floor chose it. */
export function thompson(p: Posterior, settings: BanditSettings, rng: Rng): { arm: number; explored: boolean } {
  if (p.arms.length > 1 && rng.next() < settings.exploration) return { arm: rng.int(p.arms.length), explored: true };
  return { arm: p.draw(rng), explored: false };
}

/**
 * The chance Thompson sampling (with its floor) picks each arm, by Monte Carlo: what a decision
 * logs as its propensity, and what off-policy evaluation weighs logged decisions by.
 */
export function thompsonProbabilities(p: Posterior, settings: BanditSettings, rng: Rng, draws: number): number[] {
  const wins = new Array<number>(p.arms.length).fill(0);
  for (let d = 0; d < draws; d++) wins[p.draw(rng)]++;
  const floor = settings.exploration / p.arms.length;
  return wins.map((w) => floor + (1 - settings.exploration) * (w / draws));
}
