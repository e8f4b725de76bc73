import { Rng } from '../util/rng.js';
import { addInto } from '../util/tally.js';
import { assign } from './assign.js';
import type { Experiment } from './config.js';
import { type ExposureRecord, exposureDelta, freshRecord, type Outcome, outcomeDelta } from './ledger.js';
import { type ExperimentReport, experimentReport, METRICS, type Metric } from './report.js';

/** How a simulated shopper answers one item shown at `position` (0 first): the outcomes it leads to. */
export type Respond = (shopper: number, item: string, position: number, rng: Rng) => Outcome[];

export interface SimulationInput {
  experiment: Experiment;
  /** What each variant shows each of the shop's shoppers: lists[variant][shopper] = item ids, best first. */
  lists: Record<string, string[][]>;
  respond: Respond;
  /** Visitors per run, each drawn from the shop's shoppers (with replacement) and new to the experiment. */
  visitors: number;
  runs: number;
  seed: number;
  /** The report is read this many times per run, evenly spaced: a result at any of them counts. */
  peeks: number;
  /** Mean visits per visitor (each one an exposure). */
  visits: number;
}

export interface RunResult {
  /** Per metric, per non-control variant: the first peek (visitors so far) at which the interval excluded zero, and its sign. */
  flagged: Partial<Record<Metric, { at: number; sign: 1 | -1 }>>;
  /** The same for a fixed-horizon z-test (|diff| > 1.96 se) read at every peek: what peeking does without always-valid intervals. */
  naive: Partial<Record<Metric, { at: number; sign: 1 | -1 }>>;
  final: ExperimentReport;
}

export interface SimulationSummary {
  experiment: string;
  runs: number;
  visitors: number;
  peeks: number;
  /** Share of runs in which each metric (and any of them) was flagged at some peek. */
  flaggedShare: Record<Metric | 'any', number>;
  /** The same share for a fixed-horizon z-test read at every peek (what the always-valid intervals prevent). */
  naiveFlaggedShare: Record<Metric | 'any', number>;
  /** Share of runs flagged with the treatment ahead, per metric. */
  flaggedAhead: Record<Metric, number>;
  /** Median visitors at the first flag, among flagged runs. */
  medianVisitorsAtFlag: Partial<Record<Metric, number>>;
  /** The relative lift in each run's final report, averaged over runs, per metric (treatment against control). */
  meanRelativeLift: Partial<Record<Metric, number>>;
}

/** One run: visitors arrive, are assigned by the experiment's hash (salted per run), see their variant's list, answer it. */
export function simulateRun(input: SimulationInput, run: number): RunResult {
  const e: Experiment = { ...input.experiment, salt: `${input.experiment.salt}-r${run}`, share: 1, active: true };
  const rng = new Rng(input.seed * 7919 + run);
  const counter: Record<string, number> = {};
  const shoppers = Object.values(input.lists)[0].length;
  const every = Math.max(1, Math.floor(input.visitors / input.peeks));
  const flagged: RunResult['flagged'] = {};
  const naive: RunResult['naive'] = {};
  for (let n = 1; n <= input.visitors; n++) {
    const variant = assign(e, `visitor-${run}-${n}`)!;
    const shopper = rng.int(shoppers);
    const list = input.lists[variant.name][shopper];
    let record: ExposureRecord = freshRecord(variant.name, 0);
    const visits = 1 + rng.poisson(Math.max(0, input.visits - 1));
    for (let v = 0; v < visits; v++) {
      addInto(counter, exposureDelta(variant.name, v === 0, list.length));
      for (let p = 0; p < list.length; p++)
        for (const o of input.respond(shopper, list[p], p, rng)) {
          const next = outcomeDelta(record, o);
          record = next.record;
          addInto(counter, next.delta);
        }
    }
    if (n % every === 0 || n === input.visitors) flag(experimentReport(e, counter), n, flagged, naive);
  }
  return { flagged, naive, final: experimentReport(e, counter) };
}

function flag(r: ExperimentReport, at: number, flagged: RunResult['flagged'], naive: RunResult['naive']): void {
  for (const v of r.variants)
    for (const m of METRICS) {
      const l = v.vsControl?.[m];
      if (!l) continue;
      if (l.significant && !flagged[m]) flagged[m] = { at, sign: l.lo > 0 ? 1 : -1 };
      if (Math.abs(l.diff) > Z95 * l.se && !naive[m]) naive[m] = { at, sign: l.diff > 0 ? 1 : -1 };
    }
}

const Z95 = 1.959964;

/** Many seeded runs of one experiment: how often each metric is flagged, and how soon. */
export function simulateExperiment(input: SimulationInput, onRun?: (done: number) => void): SimulationSummary {
  const zero = (): Record<Metric | 'any', number> =>
    Object.fromEntries([...METRICS, 'any'].map((m) => [m, 0])) as Record<Metric | 'any', number>;
  const flaggedCount = zero();
  const naiveCount = zero();
  const ahead = Object.fromEntries(METRICS.map((m) => [m, 0])) as Record<Metric, number>;
  const at: Record<Metric, number[]> = { conversion: [], clicksPerUser: [], revenuePerUser: [] };
  const lifts: Record<Metric, number[]> = { conversion: [], clicksPerUser: [], revenuePerUser: [] };
  for (let run = 0; run < input.runs; run++) {
    const r = simulateRun(input, run);
    let any = false;
    for (const m of METRICS) {
      const f = r.flagged[m];
      if (f) {
        any = true;
        flaggedCount[m]++;
        if (f.sign > 0) ahead[m]++;
        at[m].push(f.at);
      }
      const rel = r.final.variants.find((v) => !v.control)?.vsControl?.[m]?.relative;
      if (rel !== null && rel !== undefined) lifts[m].push(rel);
    }
    if (any) flaggedCount.any++;
    for (const m of METRICS) if (r.naive[m]) naiveCount[m]++;
    if (METRICS.some((m) => r.naive[m])) naiveCount.any++;
    onRun?.(run + 1);
  }
  const share = (x: number): number => x / input.runs;
  return {
    experiment: input.experiment.name,
    runs: input.runs,
    visitors: input.visitors,
    peeks: input.peeks,
    flaggedShare: shares(flaggedCount, input.runs),
    naiveFlaggedShare: shares(naiveCount, input.runs),
    flaggedAhead: Object.fromEntries(Object.entries(ahead).map(([m, c]) => [m, share(c)])) as Record<Metric, number>,
    medianVisitorsAtFlag: Object.fromEntries(
      METRICS.filter((m) => at[m].length > 0).map((m) => [m, median(at[m])]),
    ) as Partial<Record<Metric, number>>,
    meanRelativeLift: Object.fromEntries(
      METRICS.filter((m) => lifts[m].length > 0).map((m) => [m, lifts[m].reduce((s, x) => s + x, 0) / lifts[m].length]),
    ) as Partial<Record<Metric, number>>,
  };
}

const shares = (counts: Record<Metric | 'any', number>, runs: number): Record<Metric | 'any', number> =>
  Object.fromEntries(Object.entries(counts).map(([m, c]) => [m, c / runs])) as Record<Metric | 'any', number>;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
