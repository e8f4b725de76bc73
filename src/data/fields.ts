import { DataError } from './errors.js';
import { EVENT_TYPES } from '../protocol/calls.js';
import { eventTypeCode } from './types.js';

/** Field parsers shared by every loader, each failing with a DataError that names file, line and field. */
export class FieldReader {
  constructor(
    readonly file: string,
    public line: number,
  ) {}

  fail(field: string | undefined, problem: string): never {
    throw new DataError(this.file, this.line, field, problem);
  }

  requiredString(field: string, raw: unknown): string {
    if (raw === undefined || raw === null) this.fail(field, 'is missing');
    const s =
      typeof raw === 'string'
        ? raw.trim()
        : typeof raw === 'number'
          ? this.numericId(field, raw)
          : this.fail(field, `must be a string, got ${typeof raw}`);
    if (s.length === 0) this.fail(field, 'is empty');
    return s;
  }

  optionalString(field: string, raw: unknown): string | undefined {
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw === 'number') return this.numericId(field, raw);
    if (typeof raw !== 'string') this.fail(field, `must be a string, got ${typeof raw}`);
    const s = raw.trim();
    return s.length === 0 ? undefined : s;
  }

  /**
   * A JSON number where a string is expected (an id, say). Beyond 2^53 JSON.parse has already
   * rounded it, and two different ids would silently become one.
   */
  private numericId(field: string, raw: number): string {
    if (Number.isInteger(raw) && !Number.isSafeInteger(raw))
      this.fail(
        field,
        `the number ${JSON.stringify(String(raw))} is too large to be read exactly (over 2^53); write it as a string in quotes`,
      );
    return String(raw);
  }

  /** NaN for an absent or empty value; an error for anything that is present but not a finite number. */
  optionalNumber(field: string, raw: unknown, min = -Infinity): number {
    if (raw === undefined || raw === null || raw === '') return NaN;
    const v = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseNumber(raw) : NaN;
    if (!Number.isFinite(v)) this.fail(field, `not a number: ${JSON.stringify(raw)}`);
    if (v < min) this.fail(field, `must be >= ${min}, got ${JSON.stringify(String(raw))}`);
    return v;
  }

  requiredNumber(field: string, raw: unknown, min = -Infinity): number {
    if (raw === undefined || raw === null || raw === '') this.fail(field, 'is missing');
    return this.optionalNumber(field, raw, min);
  }

  /** Unix seconds, or an ISO 8601 date/time string. */
  timestamp(field: string, raw: unknown): number {
    if (raw === undefined || raw === null || raw === '') this.fail(field, 'is missing');
    let t: number;
    if (typeof raw === 'number') t = raw;
    else if (typeof raw === 'string') {
      const s = raw.trim();
      t = /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : parseIsoSeconds(s);
      if (!Number.isFinite(t))
        this.fail(
          field,
          `not a Unix time in seconds or an ISO 8601 date (YYYY-MM-DD, optionally THH:MM[:SS] and a zone; no zone means UTC): ${JSON.stringify(raw)}`,
        );
    } else this.fail(field, `must be a number or string, got ${typeof raw}`);
    if (!Number.isFinite(t)) this.fail(field, `not a finite time: ${JSON.stringify(raw)}`);
    if (Math.abs(t) > 1e11)
      this.fail(
        field,
        `${JSON.stringify(String(raw))} is out of range for Unix seconds (milliseconds? divide by 1000)`,
      );
    return t;
  }

  eventType(field: string, raw: unknown): number {
    const s = this.requiredString(field, raw).toLowerCase();
    const code = eventTypeCode(s);
    if (code < 0)
      this.fail(field, `unknown event type ${JSON.stringify(s)} (expected one of ${EVENT_TYPES.join(', ')})`);
    return code;
  }

  boolean(field: string, raw: unknown, fallback: boolean): boolean {
    if (raw === undefined || raw === null || raw === '') return fallback;
    if (typeof raw === 'boolean') return raw;
    const s = String(raw).trim().toLowerCase();
    if (s === 'true' || s === '1' || s === 'yes') return true;
    if (s === 'false' || s === '0' || s === 'no') return false;
    this.fail(field, `not a boolean (true/false/1/0/yes/no): ${JSON.stringify(raw)}`);
  }
}

/** Number() accepts '' and ' ' as 0 and hex as numbers; data files mean neither. */
function parseNumber(s: string): number {
  const t = s.trim();
  if (t.length === 0 || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return NaN;
  return Number(t);
}

const ISO_8601 = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * ISO 8601 only (Date.parse alone would take "March 7" or US-style 01/02/2023 and invent a date), and
 * a time without a zone is UTC: read in the machine's zone, the same file would load as different
 * data on another machine.
 */
function parseIsoSeconds(s: string): number {
  const m = ISO_8601.exec(s);
  if (!m) return NaN;
  const [, date, time, zone] = m;
  // Date.parse rolls an impossible day over (2026-02-30 becomes March 2nd): the date must round-trip.
  const day = Date.parse(`${date}T00:00:00Z`);
  if (!Number.isFinite(day) || new Date(day).toISOString().slice(0, 10) !== date) return NaN;
  if (time === undefined) return zone === undefined ? Date.parse(`${date}T00:00:00Z`) / 1000 : NaN;
  let z = (zone ?? 'Z').toUpperCase();
  if (z !== 'Z') z = z.length === 3 ? `${z}:00` : z.includes(':') ? z : `${z.slice(0, 3)}:${z.slice(3)}`;
  return Date.parse(`${date}T${time}${z}`) / 1000;
}
