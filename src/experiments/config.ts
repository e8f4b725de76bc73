import { readFileSync } from 'node:fs';
import { CALLS, type CallName, RANKINGS, type Ranking } from '../protocol/calls.js';
import { VitrineError } from '../protocol/errors.js';

/** The calls an experiment can change; an exposure is counted each time one of them answers its shopper. */
export type ExperimentCall = Exclude<CallName, 'event'>;
export const EXPERIMENT_CALLS: readonly ExperimentCall[] = CALLS.filter((c): c is ExperimentCall => c !== 'event');

/**
 * The promotion policy of a variant: Thompson sampling (the server's default), never an offer, or
 * always one offer (`fixed:<promotion id>`, when it is eligible; otherwise nothing).
 */
export type PromotionPolicy = 'thompson' | 'none' | { fixed: string };

/** What a variant changes; anything it leaves out is served as without the experiment. */
export interface VariantSettings {
  /** A bundle version directory served side by side from its own worker pool. */
  bundle?: string;
  diversity?: number;
  candidates?: number;
  ranking?: Ranking;
  promotion?: PromotionPolicy;
}

export interface Variant {
  name: string;
  weight: number;
  settings: VariantSettings;
}

export interface Experiment {
  name: string;
  /** Hashed with the shopper's id: a new salt is a new experiment with a fresh assignment and counts. */
  salt: string;
  /** The share of shoppers in the experiment; growing it keeps everyone already in where they were. */
  share: number;
  /** Running experiments assign and count exposures; a stopped one keeps its report. */
  active: boolean;
  calls: ExperimentCall[];
  variants: Variant[];
  /** The variant the others are compared with (the first, unless named). */
  control: string;
  /** Outcomes this many hours after a shopper's latest exposure are credited to their variant. */
  windowHours: number;
  /** Users per variant at which the interval is tightest (the mixture's tuning); it stays valid at any count. */
  plannedUsers: number;
}

export interface ExperimentsFile {
  experiments: Experiment[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const FIELDS = ['name', 'salt', 'share', 'active', 'calls', 'variants', 'control', 'windowHours', 'plannedUsers'];
const SETTINGS = ['bundle', 'diversity', 'candidates', 'ranking', 'promotion'] as const;

type Obj = Record<string, unknown>;

const bad = (path: string, problem: string): VitrineError =>
  new VitrineError('invalid_argument', `${path}: ${problem}`);

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function unknownKeys(o: Obj, known: readonly string[], path: string): void {
  for (const k of Object.keys(o))
    if (!known.includes(k))
      throw bad(`${path}.${k.slice(0, 64)}`, `is not a setting here (known: ${known.join(', ')})`);
}

function num(o: Obj, key: string, path: string, min: number, max: number, fallback?: number): number {
  const v = o[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw bad(`${path}.${key}`, `expected a number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function name(o: Obj, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string' || !NAME.test(v))
    throw bad(
      `${path}.${key}`,
      `expected a name of letters, digits, "_", "." or "-" (at most 64), got ${JSON.stringify(v)}`,
    );
  return v;
}

function promotionPolicy(v: unknown, path: string): PromotionPolicy {
  if (v === 'thompson' || v === 'none') return v;
  if (typeof v === 'string' && v.startsWith('fixed:') && v.length > 'fixed:'.length) return { fixed: v.slice(6) };
  throw bad(path, `expected "thompson", "none" or "fixed:<promotion id>", got ${JSON.stringify(v)}`);
}

function settings(v: unknown, path: string): VariantSettings {
  if (v === undefined) return {};
  if (!isObj(v)) throw bad(path, 'expected an object of settings');
  unknownKeys(v, SETTINGS, path);
  const s: VariantSettings = {};
  if (v.bundle !== undefined) {
    if (typeof v.bundle !== 'string' || !/^[^/\\]+$/.test(v.bundle) || v.bundle.startsWith('.'))
      throw bad(`${path}.bundle`, `expected a version directory's name, got ${JSON.stringify(v.bundle)}`);
    s.bundle = v.bundle;
  }
  if (v.diversity !== undefined) s.diversity = num(v, 'diversity', path, 0, 1);
  if (v.candidates !== undefined) {
    s.candidates = num(v, 'candidates', path, 10, 100_000);
    if (!Number.isInteger(s.candidates)) throw bad(`${path}.candidates`, `expected an integer, got ${s.candidates}`);
  }
  if (v.ranking !== undefined) {
    if (!(RANKINGS as readonly unknown[]).includes(v.ranking))
      throw bad(`${path}.ranking`, `expected one of ${RANKINGS.join(', ')}, got ${JSON.stringify(v.ranking)}`);
    s.ranking = v.ranking as Ranking;
  }
  if (v.promotion !== undefined) s.promotion = promotionPolicy(v.promotion, `${path}.promotion`);
  return s;
}

function variants(v: unknown, path: string): Variant[] {
  if (!Array.isArray(v) || v.length < 2 || v.length > 16)
    throw bad(path, 'expected a list of 2 to 16 variants ({"name", "weight", "settings"})');
  const out = v.map((x, j): Variant => {
    const p = `${path}[${j}]`;
    if (!isObj(x)) throw bad(p, 'expected an object with name, weight and settings');
    unknownKeys(x, ['name', 'weight', 'settings'], p);
    return {
      name: name(x, 'name', p),
      weight: num(x, 'weight', p, 0.001, 1000, 1),
      settings: settings(x.settings, `${p}.settings`),
    };
  });
  const seen = new Set<string>();
  for (const [j, x] of out.entries()) {
    if (seen.has(x.name)) throw bad(`${path}[${j}].name`, `"${x.name}" is used by two variants`);
    seen.add(x.name);
  }
  return out;
}

function calls(v: unknown, path: string, vs: Variant[]): ExperimentCall[] {
  const promotes = vs.some((x) => x.settings.promotion !== undefined);
  if (v === undefined) return promotes ? ['promotion'] : ['recommend'];
  if (!Array.isArray(v) || v.length === 0 || v.some((c) => !(EXPERIMENT_CALLS as readonly unknown[]).includes(c)))
    throw bad(path, `expected a list of calls from ${EXPERIMENT_CALLS.join(', ')}, got ${JSON.stringify(v)}`);
  const list = [...new Set(v as ExperimentCall[])];
  if (promotes && !list.includes('promotion'))
    throw bad(path, 'a variant sets a promotion policy, which changes nothing unless "promotion" is among the calls');
  return list;
}

/** One experiment, checked field by field (`path` names it in errors). */
export function parseExperiment(v: unknown, path: string): Experiment {
  if (!isObj(v)) throw bad(path, 'expected an object');
  unknownKeys(v, FIELDS, path);
  const vs = variants(v.variants, `${path}.variants`);
  const control = v.control === undefined ? vs[0].name : name(v, 'control', path);
  if (!vs.some((x) => x.name === control))
    throw bad(`${path}.control`, `"${control}" is not one of the variants (${vs.map((x) => x.name).join(', ')})`);
  if (v.active !== undefined && typeof v.active !== 'boolean')
    throw bad(`${path}.active`, `expected true or false, got ${JSON.stringify(v.active)}`);
  const planned = num(v, 'plannedUsers', path, 10, 1e9, 10_000);
  return {
    name: name(v, 'name', path),
    salt: name(v, 'salt', path),
    share: num(v, 'share', path, 0, 1, 1),
    active: v.active !== false,
    calls: calls(v.calls, `${path}.calls`, vs),
    variants: vs,
    control,
    windowHours: num(v, 'windowHours', path, 1, 24 * 90, 72),
    plannedUsers: Math.round(planned),
  };
}

/**
 * The experiments file: `{"experiments": [...]}`. Names and salts must differ, and two running experiments
 * may not set the same setting on the same call: a shopper in both would be served by whichever
 * came first, and neither would measure what it says.
 */
export function parseExperiments(v: unknown, source: string): ExperimentsFile {
  if (!isObj(v)) throw bad(source, 'expected a JSON object {"experiments": [...]}');
  unknownKeys(v, ['experiments'], source);
  if (!Array.isArray(v.experiments)) throw bad(`${source}.experiments`, 'expected a list of experiments');
  if (v.experiments.length > 64)
    throw bad(`${source}.experiments`, `at most 64 experiments, got ${v.experiments.length}`);
  const list = v.experiments.map((x, j) => parseExperiment(x, `${source}.experiments[${j}]`));
  const owner = new Map<string, string>();
  for (const [j, e] of list.entries()) {
    if (list.findIndex((x) => x.name === e.name) !== j)
      throw bad(`${source}.experiments[${j}].name`, `"${e.name}" names two experiments`);
    const twin = list.findIndex((x) => x.salt === e.salt);
    // One salt, one split: the second experiment's variants would fall on exactly the first's shoppers.
    if (twin !== j)
      throw bad(
        `${source}.experiments[${j}].salt`,
        `"${e.salt}" is also the salt of "${list[twin].name}": give each experiment its own`,
      );
    if (!e.active) continue;
    const touched = new Set(e.variants.flatMap((x) => Object.keys(x.settings)));
    for (const s of touched)
      for (const c of e.calls) {
        const key = `${c}/${s}`;
        const other = owner.get(key);
        if (other !== undefined)
          throw bad(
            `${source}.experiments[${j}]`,
            `"${e.name}" and "${other}" both set ${s} on ${c}; stop one of them (active: false)`,
          );
        owner.set(key, e.name);
      }
  }
  return { experiments: list };
}

/** Reads and checks an experiments file; a bad file throws and names the field. */
export function readExperiments(file: string): ExperimentsFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new VitrineError('invalid_argument', `--experiments ${file}: ${(e as Error).message}`);
  }
  return parseExperiments(parsed, file);
}
