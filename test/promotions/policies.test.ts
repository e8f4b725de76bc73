import { beforeAll, describe, expect, it } from 'vitest';
import { simulationWorld } from '../../src/cli/commands/promotions-world.js';
import { DEFAULT_BANDIT } from '../../src/promotions/bandit.js';
import { logDecisions, trueValueOf } from '../../src/promotions/log.js';
import { evaluateOffPolicy } from '../../src/promotions/ope.js';
import { POLICIES, type SimulationResult, simulatePromotions, type SimWorld } from '../../src/promotions/simulate.js';

/**
 * The issue's goals, on the synthetic world whose response model is known: Thompson sampling's
 * expected net revenue over the last 20% of impressions against the oracle's and the other
 * policies', and off-policy estimates against the truth. Thresholds are from measured runs (the
 * figures in docs/promotions.md), with margin.
 */
const SEEDS = [1, 2, 3, 4, 5];
const shares = (r: SimulationResult): Record<string, number> =>
  Object.fromEntries(Object.entries(r.policies).map(([n, p]) => [n, p.lastReward / r.policies.oracle!.lastReward]));
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe.each([
  ['small', 200_000],
  ['medium', 300_000],
])('the simulator on synthetic:%s (%i impressions, seeds 1-5)', (size, impressions) => {
  const runs: Record<string, number>[] = [];
  beforeAll(async () => {
    for (const seed of SEEDS) {
      const w = await simulationWorld(`synthetic:${size}`, seed);
      const r = simulatePromotions(w.shoppers, w.catalogue, w.response, {
        impressions,
        policies: POLICIES,
        seed,
        settings: DEFAULT_BANDIT,
      });
      runs.push(shares(r));
    }
    console.log(
      `${size}: last 20% vs oracle per seed: ${runs
        .map((r) =>
          Object.entries(r)
            .map(([n, x]) => `${n} ${(100 * x).toFixed(1)}`)
            .join(', '),
        )
        .join(' | ')}`,
    );
  }, 300_000);

  it("keeps Thompson sampling's last 20% within 95% of the oracle on every seed", () => {
    // Measured: 97.2-99.3% of the oracle.
    for (const r of runs) expect(r.thompson).toBeGreaterThan(0.96);
  });

  it('puts Thompson sampling above every other policy that does not know the answer', () => {
    // Measured (mean over seeds): Thompson 98.4 / 98.9%, the best other 92.8 / 93.2%; greedy can lock
    // onto the best offer by luck (seed 3), which is why the comparison is over seeds.
    const thompson = mean(runs.map((r) => r.thompson));
    for (const other of ['greedy', 'uniform', 'none'])
      expect(thompson - mean(runs.map((r) => r[other]))).toBeGreaterThan(0.015);
  });
});

describe('off-policy evaluation against the known truth', () => {
  let world: SimWorld;
  beforeAll(async () => {
    world = await simulationWorld('synthetic:small', 42);
  });

  it("covers the truth with each estimator's 95% interval in at least 90% of seeded logs", () => {
    const covered = { ips: 0, snips: 0, dr: 0 };
    const runs = 20;
    let gain = 0;
    for (let s = 1; s <= runs; s++) {
      const rows = logDecisions(world, 'uniform', 20_000, 1000 + s, DEFAULT_BANDIT);
      const r = evaluateOffPolicy(rows, {
        settings: DEFAULT_BANDIT,
        learnShare: 0.5,
        seed: s,
        keepProbabilities: true,
      });
      const judged = rows.slice(r.learntFrom);
      const truth = trueValueOf(world, judged, r.probabilities!);
      for (const k of ['ips', 'snips', 'dr'] as const) if (r[k].low <= truth && truth <= r[k].high) covered[k]++;
      const uniform = judged.map((row) => ({ arms: row.arms!, p: row.arms!.map(() => 1 / row.arms!.length) }));
      gain += (truth - trueValueOf(world, judged, uniform)) / runs;
    }
    console.log(
      `off-policy coverage over ${runs} logs: ${JSON.stringify(covered)}; the learnt policy's gain over uniform: ${gain.toFixed(3)} per decision`,
    );
    // What is being estimated is worth estimating: the policy learnt earns more than the uniform one that logged.
    expect(gain).toBeGreaterThan(0);
    for (const k of ['ips', 'snips', 'dr'] as const) expect(covered[k], k).toBeGreaterThanOrEqual(18);
  });
});
