import { Rng } from '../util/rng.js';
import { type BanditSettings, Posterior, thompson, thompsonProbabilities } from './bandit.js';
import { segmentKeyOf } from './decide.js';
import type { LoggedRow } from './ope.js';
import type { SimWorld } from './simulate.js';

export const LOGGING_POLICIES = ['uniform', 'thompson'] as const;
export type LoggingPolicy = (typeof LOGGING_POLICIES)[number];

/** A logged decision with the simulated shopper it was made for (the truth the evaluation is checked against). */
export interface SimulatedLogRow extends LoggedRow {
  /** Index into the world's shoppers. */
  shopper: number;
}

/**
 * A campaign log as a shop would keep one: `n` decisions made by `policy` on the simulated shoppers,
 * each with the actions it had, what it earned, and the chance the policy had of choosing it.
 * Thompson sampling learns as it goes, so its propensities change along the log, as a live one's do.
 */
export function logDecisions(
  world: SimWorld,
  policy: LoggingPolicy,
  n: number,
  seed: number,
  settings: BanditSettings,
): SimulatedLogRow[] {
  const sequence = new Rng(seed);
  const outcomes = new Rng(seed).fork(1);
  const policyRng = new Rng(seed).fork(2);
  const counters = new Map<string, Record<string, number>>();
  const rows: SimulatedLogRow[] = [];
  for (let t = 0; t < n; t++) {
    const j = world.shopperAt(sequence);
    const arms = world.armIds(j);
    let q: number;
    let propensity: number;
    if (policy === 'uniform') {
      q = policyRng.int(arms.length);
      propensity = 1 / arms.length;
    } else {
      const posterior = new Posterior(world.armView(j, counters));
      q = thompson(posterior, settings, policyRng).arm;
      propensity = thompsonProbabilities(posterior, settings, policyRng, 500)[q];
    }
    const out = world.outcome(j, q, outcomes.next());
    world.learn(counters, j, q, out);
    rows.push({
      shopper: j,
      context: segmentKeyOf(world.shoppers[j].segment),
      arms,
      action: arms[q],
      reward: out.converted ? out.net : 0,
      propensity,
    });
  }
  return rows;
}

/** What the evaluated policy truly earns on the log's decisions: Σ_a π(a | row) × the arm's true mean, averaged. */
export function trueValueOf(
  world: SimWorld,
  rows: readonly SimulatedLogRow[],
  probabilities: { arms: string[]; p: number[] }[],
): number {
  let total = 0;
  rows.forEach((r, i) => {
    const { arms, p } = probabilities[i];
    for (let a = 0; a < arms.length; a++) total += p[a] * world.trueValue(r.shopper, arms[a]);
  });
  return total / rows.length;
}
