/** The field checks every call's validation shares: each refusal names the field by its path. */
import type { Limits } from './calls.js';
import { invalidField } from './errors.js';

/** 2100-01-01 in Unix seconds: later times are a unit mistake (milliseconds), not shopper events. */
export const MAX_TS = 4_102_444_800;

export type Obj = Record<string, unknown>;

export function fail(field: string, message: string): never {
  throw invalidField(field, message);
}

/**
 * Refuses keys outside `allowed`, naming the first by its path (`prefix` + key). The key comes from
 * the client and is echoed in the reply twice: cut to a length that names it without a megabyte key
 * making a megabyte-sized reply.
 */
export function onlyKnown(o: Obj, allowed: readonly string[], prefix: string, what: string): void {
  for (const key of Object.keys(o))
    if (!allowed.includes(key))
      fail(`${prefix}${key.length > 64 ? `${key.slice(0, 64)}…` : key}`, `is not ${what} (${allowed.join(', ')})`);
}

export function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `name` is the field as the client wrote it (e.g. history[2].item), when it is nested. */
export function str(o: Obj, field: string, required: true, max?: number, name?: string): string;
export function str(o: Obj, field: string, required: false, max?: number, name?: string): string | undefined;
export function str(o: Obj, field: string, required: boolean, max = 256, name = field): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) {
    if (required) fail(name, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') fail(name, `must be a string, got ${typeOf(v)}`);
  if (v.length === 0) fail(name, 'must not be empty');
  if (v.length > max) fail(name, `is longer than ${max} characters`);
  return v;
}

export function int(o: Obj, field: string, dflt: number, min: number, max: number): number {
  const v = o[field];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(field, `must be an integer, got ${typeOf(v)}`);
  if (v < min || v > max) fail(field, `must be between ${min} and ${max}, got ${v}`);
  return v;
}

export function num(o: Obj, field: string, min = -Infinity, max = Infinity, name = field): number | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(name, `must be a finite number, got ${typeOf(v)}`);
  if (v < min || v > max) fail(name, `must be between ${min} and ${max}, got ${v}`);
  return v;
}

/**
 * A time in Unix seconds: no later than the wall clock plus `limits.maxFutureSeconds` (a shop's clock
 * may run a little ahead; an event dated next year would be held and never pruned), and clearly
 * named as milliseconds when it is one.
 */
export function timestamp(o: Obj, name: string, limits: Limits): number | undefined {
  const v = o.ts;
  if (typeof v === 'number' && v > MAX_TS)
    fail(name, `must be Unix time in seconds (at most ${MAX_TS}, the year 2100), got ${v}: milliseconds?`);
  const ts = num(o, 'ts', 0, MAX_TS, name);
  const latest = Math.floor(Date.now() / 1000) + limits.maxFutureSeconds;
  if (ts !== undefined && ts > latest) {
    fail(
      name,
      `is ${new Date(ts * 1000).toISOString()}, more than ${limits.maxFutureSeconds} s ahead of this server's clock (${new Date().toISOString()})`,
    );
  }
  return ts;
}

export function bool(o: Obj, field: string, dflt: boolean, name = field): boolean {
  const v = o[field];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail(name, `must be true or false, got ${typeOf(v)}`);
  return v;
}

export function strList(o: Obj, field: string, max: number, prefix = field): string[] | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v)) fail(prefix, `must be a string or an array of strings, got ${typeOf(v)}`);
  if (v.length > max) fail(prefix, `has ${v.length} entries; at most ${max}`);
  return v.map((x, i) => {
    if (typeof x !== 'string' || x.length === 0 || x.length > 256)
      fail(`${prefix}[${i}]`, 'must be a non-empty string of at most 256 characters');
    return x;
  });
}

export function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}
