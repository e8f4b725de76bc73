import { describe, expect, it } from 'vitest';
import type { PromotionSpec } from '../../src/data/promotions.js';
import { conversionDelta, decisionDelta, segmentCounter } from '../../src/promotions/arms.js';
import { addInto } from '../../src/util/tally.js';
import { Posterior, thompsonProbabilities } from '../../src/promotions/bandit.js';
import { armsFor, decide, ineligibility, type PromotionContext } from '../../src/promotions/decide.js';
import { Rng } from '../../src/util/rng.js';

const offer = (id: string, over: Partial<PromotionSpec> = {}): PromotionSpec => ({
  id,
  kind: 'percent_off',
  value: 10,
  minBasket: 0,
  segments: [],
  categories: [],
  start: -Infinity,
  end: Infinity,
  budget: Infinity,
  cost: 0,
  label: `${id} label`,
  ...over,
});
const ctx: PromotionContext = {
  segment: 2,
  segmentLabel: 'lapsed',
  categories: ['Shoes'],
  basket: undefined,
  now: 1_000_000,
};

describe('eligibility', () => {
  it('checks dates, budget, segment (by id or label), categories and minimum basket', () => {
    expect(ineligibility(offer('A'), ctx, 0)).toBeUndefined();
    expect(ineligibility(offer('A', { start: 1_000_001 }), ctx, 0)).toBe('not started');
    expect(ineligibility(offer('A', { end: 1_000_000 }), ctx, 0)).toBe('ended');
    expect(ineligibility(offer('A', { budget: 5 }), ctx, 5)).toBe('budget spent');
    expect(ineligibility(offer('A', { budget: 5 }), ctx, 4)).toBeUndefined();
    expect(ineligibility(offer('A', { segments: ['1'] }), ctx, 0)).toBe('for other segments');
    expect(ineligibility(offer('A', { segments: ['2'] }), ctx, 0)).toBeUndefined();
    expect(ineligibility(offer('A', { segments: ['lapsed'] }), ctx, 0)).toBeUndefined();
    expect(ineligibility(offer('A', { categories: ['Bags'] }), ctx, 0)).toBe('for other categories');
    expect(ineligibility(offer('A', { categories: ['Bags', 'Shoes'] }), ctx, 0)).toBeUndefined();
    expect(ineligibility(offer('A', { minBasket: 50 }), ctx, 0)).toBe('basket below its minimum');
    expect(ineligibility(offer('A', { minBasket: 50 }), { ...ctx, basket: 49.99 }, 0)).toBe('basket below its minimum');
    expect(ineligibility(offer('A', { minBasket: 50 }), { ...ctx, basket: 50 }, 0)).toBeUndefined();
    // Spend X, save Y is shown to move the basket up to X.
    expect(ineligibility(offer('A', { kind: 'amount_off_over', value: 10, minBasket: 50 }), ctx, 0)).toBeUndefined();
  });

  it('always offers showing nothing, and only the eligible offers besides', () => {
    const arms = armsFor([offer('A'), offer('B', { segments: ['7'] }), offer('C', { budget: 1 })], ctx, {}, { C: 1 });
    expect(arms.map((a) => a.id)).toEqual(['none', 'A']);
  });
});

describe('Thompson sampling over the shared counts', () => {
  const catalogue = [offer('TEN'), offer('TWENTY', { value: 20 })];
  /** Counts as replicas would have added them: decisions, and conversions with their orders. */
  function counts(rates: Record<string, number>, decisions: number): Record<string, number> {
    const c: Record<string, number> = {};
    for (const [arm, rate] of Object.entries(rates)) {
      for (let d = 0; d < decisions; d++) addInto(c, decisionDelta(arm));
      const p = catalogue.find((x) => x.id === arm);
      for (let k = 0; k < Math.round(rate * decisions); k++)
        addInto(c, conversionDelta(arm, { basket: 100, net: 100 - (p ? p.value : 0) }));
    }
    return c;
  }

  it('learns from the counts: the offer that earns most is chosen, and nothing when no offer pays for itself', () => {
    const rng = new Rng(1);
    const pays = armsFor(catalogue, ctx, counts({ none: 0.04, TEN: 0.05, TWENTY: 0.09 }, 2000), {});
    const chosen = Array.from({ length: 400 }, () => decide(pays, ctx, { exploration: 0.05 }, rng).arm);
    expect(chosen.filter((a) => a === 'TWENTY').length).toBeGreaterThan(360);
    // 20% off that lifts orders from 4% to 4.5% gives away more than it brings.
    const givesAway = armsFor(catalogue, ctx, counts({ none: 0.04, TEN: 0.041, TWENTY: 0.045 }, 3000), {});
    const d = decide(givesAway, ctx, { exploration: 0 }, rng);
    expect(d.arm).toBe('none');
    expect(d.shown).toEqual([]);
    expect(d.reason).toMatch(/^no offer has earned shoppers in "lapsed" more than it costs/);
  });

  it('explores what it knows little of, and says why it chose', () => {
    const rng = new Rng(2);
    const fresh = armsFor(catalogue, ctx, {}, {});
    const chosen = new Set(Array.from({ length: 200 }, () => decide(fresh, ctx, { exploration: 0 }, rng).arm));
    expect([...chosen].sort()).toEqual(['TEN', 'TWENTY', 'none']);
    const d = decide(
      armsFor(catalogue, ctx, counts({ none: 0.04, TEN: 0.05, TWENTY: 0.09 }, 2000), {}),
      ctx,
      { exploration: 0 },
      rng,
    );
    expect(d.reason).toMatch(
      /^shoppers in "lapsed" order 2\.3× as often after TWENTY label as after nothing \(180 of 2000 against 80 of 2000\)/,
    );
  });

  it("logs each decision's propensity: the chance it had, floor included", () => {
    const rng = new Rng(3);
    const arms = armsFor(catalogue, ctx, counts({ none: 0.05, TEN: 0.05, TWENTY: 0.05 }, 50), {});
    const p = thompsonProbabilities(new Posterior(arms), { exploration: 0.3 }, rng, 20_000);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(Math.min(...p)).toBeGreaterThanOrEqual(0.1);
    // Measured by choosing: the frequencies match the propensities.
    const freq = [0, 0, 0];
    for (let t = 0; t < 20_000; t++) {
      const chosen = decide(arms, ctx, { exploration: 0.3 }, rng).arm;
      freq[arms.findIndex((a) => a.id === chosen)]++;
    }
    freq.forEach((f, j) => expect(f / 20_000).toBeCloseTo(p[j], 1));
    expect(segmentCounter('3')).toBe('promotions:3');
  });
});
