import type { Experiment } from './config.js';

/**
 * What the store keeps for an experiment: one counter per (experiment, salt), fields
 * `<variant>|<figure>`, added to by every replica; and per shopper a record (kind `experiment`, id
 * `<name>:<salt>`) with their variant, their latest exposure and what they did since, from which the
 * per-user sums of squares are kept exactly.
 */
export const counterName = (e: Pick<Experiment, 'name' | 'salt'>): string => `experiment:${e.name}:${e.salt}`;
export const recordId = (e: Pick<Experiment, 'name' | 'salt'>): string => `${e.name}:${e.salt}`;
export const RECORD_KIND = 'experiment';

export const FIGURES = [
  'users',
  'exposures',
  'impressions',
  'clicks',
  'clicksSq',
  'carts',
  'purchases',
  'converters',
  'revenue',
  'revenueSq',
] as const;
export type Figure = (typeof FIGURES)[number];
export type VariantFigures = Record<Figure, number>;

/** The shopper's record: their variant, when they were last exposed, and what is credited to them. */
export interface ExposureRecord {
  variant: string;
  /** Wall-clock Unix seconds. */
  first: number;
  last: number;
  clicks: number;
  purchases: number;
  revenue: number;
}

/** The outcomes an experiment credits. */
export type Outcome = { type: 'click' } | { type: 'cart' } | { type: 'purchase'; value: number };

const field = (variant: string, f: Figure): string => `${variant}|${f}`;

/**
 * An exposure's counter deltas: `shown` items (or offers) were shown; a new user is counted once (the
 * caller's claim decides who is new).
 */
export function exposureDelta(variant: string, newUser: boolean, shown: number): Record<string, number> {
  const d: Record<string, number> = { [field(variant, 'exposures')]: 1, [field(variant, 'impressions')]: shown };
  if (newUser) d[field(variant, 'users')] = 1;
  return d;
}

export function freshRecord(variant: string, now: number): ExposureRecord {
  return { variant, first: now, last: now, clicks: 0, purchases: 0, revenue: 0 };
}

/** Whether an outcome at `now` falls within the window after the shopper's latest exposure. */
export const withinWindow = (r: ExposureRecord, e: Pick<Experiment, 'windowHours'>, now: number): boolean =>
  now >= r.first && now - r.last <= e.windowHours * 3600;

/**
 * An outcome credited to the shopper's variant: the record it leaves and the counter deltas,
 * including the change in the per-user sums of squares ((x + d)² − x² = 2xd + d²), so that the
 * report's variances are those of per-user totals without keeping every user's total in the counter.
 */
export function outcomeDelta(r: ExposureRecord, o: Outcome): { record: ExposureRecord; delta: Record<string, number> } {
  const v = r.variant;
  if (o.type === 'click')
    return {
      record: { ...r, clicks: r.clicks + 1 },
      delta: { [field(v, 'clicks')]: 1, [field(v, 'clicksSq')]: 2 * r.clicks + 1 },
    };
  if (o.type === 'cart') return { record: r, delta: { [field(v, 'carts')]: 1 } };
  const value = Math.max(0, o.value);
  const delta: Record<string, number> = {
    [field(v, 'purchases')]: 1,
    [field(v, 'revenue')]: value,
    [field(v, 'revenueSq')]: 2 * r.revenue * value + value * value,
  };
  if (r.purchases === 0) delta[field(v, 'converters')] = 1;
  return { record: { ...r, purchases: r.purchases + 1, revenue: r.revenue + value }, delta };
}

/** A variant's figures from the experiment's counter (zero where nothing was counted). */
export function figuresOf(counter: Readonly<Record<string, number>>, variant: string): VariantFigures {
  const out = {} as VariantFigures;
  for (const f of FIGURES) out[f] = counter[field(variant, f)] ?? 0;
  return out;
}
