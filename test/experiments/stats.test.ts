import { describe, expect, it } from 'vitest';
import { assign, unitHash } from '../../src/experiments/assign.js';
import { parseExperiment, parseExperiments } from '../../src/experiments/config.js';
import { freshRecord, type Outcome, outcomeDelta } from '../../src/experiments/ledger.js';
import { chiSquareSurvival, compare, sampleRatio } from '../../src/experiments/stats.js';
import { Rng } from '../../src/util/rng.js';

const experiment = (over: Record<string, unknown> = {}) =>
  parseExperiment(
    {
      name: 'layout',
      salt: 's1',
      variants: [
        { name: 'control', weight: 1 },
        { name: 'treatment', weight: 1, settings: { diversity: 0.3 } },
      ],
      ...over,
    },
    'test',
  );

describe('the chi-square survival function', () => {
  it('matches tabulated critical values', () => {
    // Critical values from any chi-square table: P(X > x) for k degrees of freedom.
    expect(chiSquareSurvival(3.841, 1)).toBeCloseTo(0.05, 4);
    expect(chiSquareSurvival(10.828, 1)).toBeCloseTo(0.001, 5);
    expect(chiSquareSurvival(5.991, 2)).toBeCloseTo(0.05, 4);
    expect(chiSquareSurvival(7.815, 3)).toBeCloseTo(0.05, 4);
    expect(chiSquareSurvival(0.352, 3)).toBeCloseTo(0.95, 3);
    expect(chiSquareSurvival(0, 1)).toBe(1);
  });
});

describe('always-valid intervals', () => {
  it('hold the true difference at every peek of ≥ 95% of sequences, where a z-test peeked at does not', () => {
    const rng = new Rng(11);
    const sequences = 300;
    let everMissed = 0;
    let naiveEverFlagged = 0;
    for (let s = 0; s < sequences; s++) {
      const t = { n: 0, sum: 0, sumSq: 0 };
      const c = { n: 0, sum: 0, sumSq: 0 };
      let missed = false;
      let flagged = false;
      for (let n = 1; n <= 2000; n++) {
        // Both arms from one distribution (a 10% conversion): the true difference is zero.
        for (const arm of [t, c]) {
          const x = rng.next() < 0.1 ? 1 : 0;
          arm.n++;
          arm.sum += x;
          arm.sumSq += x * x;
        }
        if (n % 50 !== 0) continue;
        const i = compare(t, c, 1000, 0.05)!;
        if (i.lo > 0 || i.hi < 0) missed = true;
        if (Math.abs(i.diff) > 1.96 * i.se) flagged = true;
      }
      if (missed) everMissed++;
      if (flagged) naiveEverFlagged++;
    }
    // Measured: 2 of 300 sequences ever missed (0.7%: the mixture is conservative at this size);
    // a z-test read at the same 40 peeks flagged 98 of 300 (33%).
    expect(everMissed / sequences).toBeLessThanOrEqual(0.05);
    expect(naiveEverFlagged / sequences).toBeGreaterThan(0.1);
  });

  it('narrow as users accrue and find a real difference', () => {
    const arm = (n: number, p: number) => ({ n, sum: n * p, sumSq: n * p });
    const small = compare(arm(500, 0.12), arm(500, 0.1), 10_000, 0.05)!;
    const large = compare(arm(50_000, 0.12), arm(50_000, 0.1), 10_000, 0.05)!;
    expect(large.hi - large.lo).toBeLessThan((small.hi - small.lo) / 5);
    expect(large.lo).toBeGreaterThan(0);
    expect(large.pValue).toBeLessThan(0.05);
    // Wider than a fixed-horizon interval: the price of reading it at any time.
    expect((large.hi - large.lo) / 2).toBeGreaterThan(1.96 * large.se);
    expect(compare(arm(10, 0.1), arm(10, 0.1), 10_000, 0.05)).toBeUndefined();
  });
});

describe('assignment', () => {
  it('is stable, balanced, and keeps everyone where they were when the share grows', () => {
    const e = experiment();
    const users = Array.from({ length: 20_000 }, (_, j) => `user-${j}`);
    const first = users.map((u) => assign(e, u)!.name);
    expect(users.map((u) => assign(e, u)!.name)).toEqual(first);
    const counts = ['control', 'treatment'].map((v) => first.filter((x) => x === v).length);
    expect(sampleRatio(counts, [1, 1]).pValue).toBeGreaterThan(0.001);
    const tenth = experiment({ share: 0.1 });
    const half = experiment({ share: 0.5 });
    const inTenth = users.filter((u) => assign(tenth, u) !== undefined);
    expect(inTenth.length / users.length).toBeGreaterThan(0.09);
    expect(inTenth.length / users.length).toBeLessThan(0.11);
    for (const u of inTenth) expect(assign(half, u)?.name).toBe(assign(tenth, u)!.name);
    // Another salt is another, independent split.
    const other = experiment({ salt: 's2' });
    const same = users.filter((u, j) => assign(other, u)!.name === first[j]).length / users.length;
    expect(same).toBeGreaterThan(0.48);
    expect(same).toBeLessThan(0.52);
    expect(unitHash('s1', 'in', 'x')).toBe(unitHash('s1', 'in', 'x'));
  });

  it('follows unequal weights', () => {
    const e = experiment({
      variants: [
        { name: 'a', weight: 9 },
        { name: 'b', weight: 1 },
      ],
    });
    const b = Array.from({ length: 20_000 }, (_, j) => assign(e, `u${j}`)!.name).filter((x) => x === 'b').length;
    expect(b / 20_000).toBeGreaterThan(0.09);
    expect(b / 20_000).toBeLessThan(0.11);
  });
});

describe('the per-user ledger', () => {
  it("keeps the sums of squares of per-user totals exactly, from each user's record", () => {
    const rng = new Rng(5);
    const totals = new Map<number, { clicks: number; purchases: number; revenue: number }>();
    const records = new Map<number, ReturnType<typeof freshRecord>>();
    let clicksSq = 0;
    let revenueSq = 0;
    let converters = 0;
    for (let j = 0; j < 5000; j++) {
      const u = rng.int(200);
      const o: Outcome =
        rng.next() < 0.7 ? { type: 'click' } : { type: 'purchase', value: Math.round(rng.next() * 1000) / 10 };
      const { record, delta } = outcomeDelta(records.get(u) ?? freshRecord('a', 0), o);
      records.set(u, record);
      clicksSq += delta['a|clicksSq'] ?? 0;
      revenueSq += delta['a|revenueSq'] ?? 0;
      converters += delta['a|converters'] ?? 0;
      const t = totals.get(u) ?? { clicks: 0, purchases: 0, revenue: 0 };
      if (o.type === 'click') t.clicks++;
      if (o.type === 'purchase') {
        t.purchases++;
        t.revenue += o.value;
      }
      totals.set(u, t);
    }
    const direct = [...totals.values()];
    expect(clicksSq).toBe(direct.reduce((s, t) => s + t.clicks ** 2, 0));
    expect(revenueSq).toBeCloseTo(
      direct.reduce((s, t) => s + t.revenue ** 2, 0),
      3,
    );
    expect(converters).toBe(direct.filter((t) => t.purchases > 0).length);
  });
});

describe('the experiments file', () => {
  const file = (experiments: unknown[]) => parseExperiments({ experiments }, 'exp.json');
  const base = { name: 'a', salt: 's', variants: [{ name: 'x' }, { name: 'y', settings: { ranking: 'popularity' } }] };

  it('is refused with the field named', () => {
    expect(() => file([{ ...base, shar: 0.5 }])).toThrow(/exp.json.experiments\[0\].shar: is not a setting here/);
    expect(() => file([{ ...base, share: 2 }])).toThrow(/experiments\[0\].share: expected a number from 0 to 1/);
    expect(() => file([{ ...base, variants: [{ name: 'x' }] }])).toThrow(/variants: expected a list of 2 to 16/);
    expect(() => file([{ ...base, variants: [{ name: 'x' }, { name: 'x' }] }])).toThrow(
      /variants\[1\].name: "x" is used/,
    );
    expect(() => file([{ ...base, variants: [{ name: 'x' }, { name: 'y', settings: { ranking: 'best' } }] }])).toThrow(
      /variants\[1\].settings.ranking: expected one of ranker, embeddings, popularity/,
    );
    expect(() => file([{ ...base, control: 'z' }])).toThrow(/control: "z" is not one of the variants/);
    expect(() => file([base, { ...base }])).toThrow(/experiments\[1\].name: "a" names two experiments/);
    expect(() => file([base, { ...base, name: 'b', active: false }])).toThrow(
      /experiments\[1\].salt: "s" is also the salt of "a": give each experiment its own/,
    );
    expect(() =>
      file([
        { ...base, variants: [{ name: 'x' }, { name: 'y', settings: { promotion: 'none' } }], calls: ['recommend'] },
      ]),
    ).toThrow(/calls: a variant sets a promotion policy/);
  });

  it('refuses two running experiments that set the same thing on the same call', () => {
    expect(() => file([base, { ...base, name: 'b', salt: 't' }])).toThrow(/"b" and "a" both set ranking on recommend/);
    expect(file([base, { ...base, name: 'b', salt: 't', active: false }]).experiments).toHaveLength(2);
  });

  it('fills in defaults', () => {
    const e = file([base]).experiments[0];
    expect(e).toMatchObject({ share: 1, active: true, calls: ['recommend'], control: 'x', windowHours: 72 });
    expect(e.variants[0].weight).toBe(1);
  });
});
