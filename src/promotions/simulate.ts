import { netRevenue, type PromotionSpec } from '../data/promotions.js';
import type { PromotionResponse } from '../data/synthetic/promotion-response.js';
import { AliasTable, Rng } from '../util/rng.js';
import { addInto } from '../util/tally.js';
import { conversionDelta, decisionDelta } from './arms.js';
import { type Arm, type BanditSettings, Posterior, thompson } from './bandit.js';
import { armsFor, type PromotionContext, segmentKeyOf } from './decide.js';

export const POLICIES = ['thompson', 'greedy', 'uniform', 'none', 'oracle'] as const;
export type PolicyName = (typeof POLICIES)[number];

/** A shopper as the policies see them (what the server would compute from their history). */
export interface SimShopper {
  id: string;
  /** Index into the response model's shoppers. */
  index: number;
  segment: number;
  segmentLabel: string;
  categories: string[];
  /** How often they come: impressions are drawn in proportion. */
  weight: number;
}

export interface PolicyResult {
  /** Expected net revenue of the offers chosen (the response model's means: no outcome noise). */
  reward: number;
  /** The same over the last 20% of impressions, once policies have had time to learn. */
  lastReward: number;
  /** What the draws gave: orders and the net revenue the shop kept. */
  conversions: number;
  netRevenue: number;
  /** Expected regret against the oracle, cumulative, at each checkpoint. */
  regret: number[];
  /** How often each arm was chosen. */
  chosen: Record<string, number>;
}

export interface SimulationResult {
  impressions: number;
  seed: number;
  /** The impression counts the regret curves are sampled at. */
  checkpoints: number[];
  /** Per segment: its label, shoppers, and the arm the oracle knows is best for most of them. */
  segments: Record<string, { label: string; shoppers: number; best: string }>;
  policies: Partial<Record<PolicyName, PolicyResult>>;
}

export interface SimulationOptions {
  impressions: number;
  policies: readonly PolicyName[];
  seed: number;
  settings: BanditSettings;
  checkpoints?: number;
  /** Called every few thousand impressions with the share done. */
  onProgress?: (done: number, total: number) => void;
}

/** A decision logged for off-policy evaluation. */
export interface LoggedDecision {
  shopper: SimShopper;
  arms: string[];
  action: string;
  reward: number;
  propensity: number;
}

/**
 * Runs each policy on the same sequence of shoppers with the same random outcomes (common random
 * numbers: differences between policies are theirs, not luck's), learning from each outcome at once.
 */
export function simulatePromotions(
  shoppers: readonly SimShopper[],
  catalogue: readonly PromotionSpec[],
  response: PromotionResponse,
  o: SimulationOptions,
): SimulationResult {
  const world = new SimWorld(shoppers, catalogue, response);
  const checkpoints = Array.from({ length: o.checkpoints ?? 100 }, (_, j) =>
    Math.round(((j + 1) * o.impressions) / (o.checkpoints ?? 100)),
  );
  const policies: Partial<Record<PolicyName, PolicyResult>> = {};
  const total = o.impressions * o.policies.length;
  o.policies.forEach((name, pi) => {
    policies[name] = world.run(name, o, checkpoints, (done) => o.onProgress?.(pi * o.impressions + done, total));
  });
  return { impressions: o.impressions, seed: o.seed, checkpoints, segments: world.segmentSummary(), policies };
}

/** The shoppers, the offers each may get, and what each offer truly earns: shared by every policy run. */
export class SimWorld {
  private readonly draw: AliasTable;
  /** Per shopper: the eligible arms (NONE first), and what each truly earns. */
  private readonly arms: { promotion: PromotionSpec | null; id: string }[][];
  private readonly truth: number[][];
  /** Per segment: each arm's mean true value over the shoppers it is eligible for (the oracle's knowledge). */
  private readonly segmentValue = new Map<string, Map<string, number>>();
  /**
   * Per shopper and arm, the segment's mean value: what a policy that knows only the segment can
   * expect of the arm. Rewards and regret are counted in it, so the oracle is best by construction and
   * which shoppers a short window happens to draw does not move one policy against another.
   */
  private readonly segmentTruth: number[][];
  private readonly oracle: number[];

  constructor(
    readonly shoppers: readonly SimShopper[],
    readonly catalogue: readonly PromotionSpec[],
    readonly response: PromotionResponse,
  ) {
    this.draw = new AliasTable(shoppers.map((s) => s.weight));
    this.arms = shoppers.map((s) =>
      armsFor(catalogue, this.context(s), {}, {}).map((a) => ({ promotion: a.promotion, id: a.id })),
    );
    this.truth = shoppers.map((s, j) => this.arms[j].map((a) => response.expected(s.index, a.promotion)));
    const sums = new Map<string, Map<string, [number, number]>>();
    shoppers.forEach((s, j) => {
      const key = segmentKeyOf(s.segment);
      if (!sums.has(key)) sums.set(key, new Map());
      const m = sums.get(key)!;
      this.arms[j].forEach((a, q) => {
        const [v, w] = m.get(a.id) ?? [0, 0];
        m.set(a.id, [v + s.weight * this.truth[j][q], w + s.weight]);
      });
    });
    for (const [key, m] of sums) this.segmentValue.set(key, new Map([...m].map(([id, [v, w]]) => [id, v / w])));
    this.segmentTruth = shoppers.map((s, j) => {
      const values = this.segmentValue.get(segmentKeyOf(s.segment))!;
      return this.arms[j].map((a) => values.get(a.id)!);
    });
    this.oracle = shoppers.map((_, j) => {
      let best = 0;
      this.segmentTruth[j].forEach((v, q) => {
        if (v > this.segmentTruth[j][best]) best = q;
      });
      return best;
    });
  }

  context(s: SimShopper): PromotionContext {
    return { segment: s.segment, segmentLabel: s.segmentLabel, categories: s.categories, basket: undefined, now: 0 };
  }

  /** The impression sequence: the same shoppers, in the same order, for every policy. */
  shopperAt(rng: Rng): number {
    return this.draw.sample(rng);
  }

  oracleArm(j: number): number {
    return this.oracle[j];
  }

  segmentSummary(): SimulationResult['segments'] {
    const out: SimulationResult['segments'] = {};
    for (const [key, values] of this.segmentValue) {
      const members = this.shoppers.filter((s) => segmentKeyOf(s.segment) === key);
      const best = [...values].sort((a, b) => b[1] - a[1])[0][0];
      out[key] = { label: members[0]?.segmentLabel ?? key, shoppers: members.length, best };
    }
    return out;
  }

  /** The arms a learning policy sees for shopper j, with its segment's counts. */
  armView(j: number, counters: Map<string, Record<string, number>>): Arm[] {
    const key = segmentKeyOf(this.shoppers[j].segment);
    if (!counters.has(key)) counters.set(key, {});
    return armsFor(this.catalogue, this.context(this.shoppers[j]), counters.get(key)!, {});
  }

  choose(
    name: PolicyName,
    j: number,
    counters: Map<string, Record<string, number>>,
    o: SimulationOptions,
    rng: Rng,
  ): number {
    if (name === 'none') return 0;
    if (name === 'uniform') return rng.int(this.arms[j].length);
    if (name === 'oracle') return this.oracleArm(j);
    const posterior = new Posterior(this.armView(j, counters));
    return name === 'greedy' ? posterior.best() : thompson(posterior, o.settings, rng).arm;
  }

  /** Shows arm q to shopper j; u is the impression's common random number. */
  outcome(j: number, q: number, u: number): { converted: boolean; basket: number; net: number } {
    const s = this.shoppers[j];
    const a = this.arms[j][q];
    const p = this.response.conversion(s.index, a.promotion);
    const basket = this.response.basket(s.index, a.promotion);
    return { converted: u < p, basket, net: netRevenue(a.promotion, basket) };
  }

  learn(
    counters: Map<string, Record<string, number>>,
    j: number,
    q: number,
    out: ReturnType<SimWorld['outcome']>,
  ): void {
    const key = segmentKeyOf(this.shoppers[j].segment);
    const counter = counters.get(key) ?? {};
    counters.set(key, counter);
    const arm = this.arms[j][q].id;
    addInto(counter, decisionDelta(arm));
    if (out.converted) addInto(counter, conversionDelta(arm, { basket: out.basket, net: out.net }));
  }

  run(name: PolicyName, o: SimulationOptions, checkpoints: number[], progress: (done: number) => void): PolicyResult {
    const sequence = new Rng(o.seed);
    const outcomes = new Rng(o.seed).fork(1);
    const policyRng = new Rng(o.seed).fork(2);
    const counters = new Map<string, Record<string, number>>();
    const result: PolicyResult = { reward: 0, lastReward: 0, conversions: 0, netRevenue: 0, regret: [], chosen: {} };
    const lastFrom = Math.floor(o.impressions * 0.8);
    let regret = 0;
    let next = 0;
    for (let t = 0; t < o.impressions; t++) {
      const j = this.shopperAt(sequence);
      const u = outcomes.next();
      const q = this.choose(name, j, counters, o, policyRng);
      const value = this.segmentTruth[j][q];
      result.reward += value;
      if (t >= lastFrom) result.lastReward += value;
      regret += this.segmentTruth[j][this.oracle[j]] - value;
      const out = this.outcome(j, q, u);
      if (out.converted) {
        result.conversions++;
        result.netRevenue += out.net;
      }
      const id = this.arms[j][q].id;
      result.chosen[id] = (result.chosen[id] ?? 0) + 1;
      if (name === 'thompson' || name === 'greedy') this.learn(counters, j, q, out);
      if (t + 1 === checkpoints[next]) {
        result.regret.push(regret);
        next++;
      }
      if ((t + 1) % 5000 === 0) progress(t + 1);
    }
    return result;
  }

  /** The arms shopper j may get, by id (NONE first). */
  armIds(j: number): string[] {
    return this.arms[j].map((a) => a.id);
  }

  /** What showing arm `id` truly earns from shopper j on average. */
  trueValue(j: number, id: string): number {
    const q = this.arms[j].findIndex((a) => a.id === id);
    return q >= 0 ? this.truth[j][q] : NaN;
  }
}
