import type { Experiment } from './config.js';
import { figuresOf, type VariantFigures } from './ledger.js';
import { compare, type Interval, mean, type Moments, sampleRatio } from './stats.js';

export const ALPHA = 0.05;
/** Below this p-value the split of users is not what the weights say (Fabijan et al. 2019). */
export const SRM_THRESHOLD = 0.001;
export const METHOD =
  'mSPRT normal-mixture confidence sequences (Johari et al. 2017; Howard et al. 2021), valid whenever read';

/** The per-user metrics the report gives intervals for. */
export const METRICS = ['conversion', 'clicksPerUser', 'revenuePerUser'] as const;
export type Metric = (typeof METRICS)[number];

export interface Lift extends Interval {
  /** diff / control's mean, and the interval's ends likewise (control's mean taken as known). */
  relative: number | null;
  relLo: number | null;
  relHi: number | null;
  /** The interval excludes zero: a difference, read at any time, at the 95% level. */
  significant: boolean;
}

export interface VariantReport extends VariantFigures {
  name: string;
  weight: number;
  control: boolean;
  /** clicks / impressions (items shown). */
  ctr: number;
  /** Users with at least one purchase / users. */
  conversion: number;
  clicksPerUser: number;
  revenuePerUser: number;
  /** Against the control, per metric; absent for the control, and while either has too few users or neither varies. */
  vsControl?: Partial<Record<Metric, Lift>>;
}

export interface ExperimentReport {
  name: string;
  salt: string;
  active: boolean;
  share: number;
  calls: string[];
  windowHours: number;
  plannedUsers: number;
  method: string;
  alpha: number;
  srm: { chiSquare: number; pValue: number; mismatch: boolean };
  variants: VariantReport[];
}

/** A per-user metric's moments: conversion is a 0/1 per user, so its squares sum to its count. */
function moments(f: VariantFigures, m: Metric): Moments {
  if (m === 'conversion') return { n: f.users, sum: f.converters, sumSq: f.converters };
  if (m === 'clicksPerUser') return { n: f.users, sum: f.clicks, sumSq: f.clicksSq };
  return { n: f.users, sum: f.revenue, sumSq: f.revenueSq };
}

function lift(t: VariantFigures, c: VariantFigures, m: Metric, planned: number): Lift | undefined {
  const i = compare(moments(t, m), moments(c, m), planned, ALPHA);
  if (!i) return undefined;
  const base = mean(moments(c, m));
  const rel = (x: number): number | null => (base > 0 && Number.isFinite(x) ? x / base : null);
  return { ...i, relative: rel(i.diff), relLo: rel(i.lo), relHi: rel(i.hi), significant: i.lo > 0 || i.hi < 0 };
}

/** The report of one experiment from its counter. */
export function experimentReport(e: Experiment, counter: Readonly<Record<string, number>>): ExperimentReport {
  const figures = e.variants.map((v) => figuresOf(counter, v.name));
  const control = figures[e.variants.findIndex((v) => v.name === e.control)];
  const srm = sampleRatio(
    figures.map((f) => f.users),
    e.variants.map((v) => v.weight),
  );
  const variants = e.variants.map((v, j): VariantReport => {
    const f = figures[j];
    const per = (x: number): number => (f.users > 0 ? x / f.users : 0);
    const out: VariantReport = {
      name: v.name,
      weight: v.weight,
      control: v.name === e.control,
      ...f,
      ctr: f.impressions > 0 ? f.clicks / f.impressions : 0,
      conversion: per(f.converters),
      clicksPerUser: per(f.clicks),
      revenuePerUser: per(f.revenue),
    };
    if (v.name !== e.control) {
      const vs: Partial<Record<Metric, Lift>> = {};
      for (const m of METRICS) {
        const l = lift(f, control, m, e.plannedUsers);
        if (l) vs[m] = l;
      }
      out.vsControl = vs;
    }
    return out;
  });
  return {
    name: e.name,
    salt: e.salt,
    active: e.active,
    share: e.share,
    calls: e.calls,
    windowHours: e.windowHours,
    plannedUsers: e.plannedUsers,
    method: METHOD,
    alpha: ALPHA,
    srm: { ...srm, mismatch: srm.pValue < SRM_THRESHOLD },
    variants,
  };
}
