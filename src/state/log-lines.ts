import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { DEFAULT_LIMITS, type StreamedEvent } from '../protocol/calls.js';
import { parseRequest } from '../protocol/validate.js';
import type { StoredRecord } from './store.js';

/**
 * What one line of the event log records. Users appear as pseudonyms (`u`), never as their ids.
 * - `h`: the header, first line of every log written since format 2: the store's pseudonym salt.
 * - `e`: an event; `r`: a per-user record; `c`: increments of a named counter; `f`: a tombstone.
 * A line of format 1 (`{"user": <id>, ...}`, no `t`) is an event under the raw id; replay reads it
 * and the rewrite that follows stores it under its pseudonym.
 */
export type LogEntry =
  | { t: 'h'; salt: string }
  | { t: 'e'; u: string; e: StreamedEvent }
  | { t: 'r'; u: string; k: string; id: string; r: StoredRecord }
  | { t: 'c'; c: string; d: Record<string, number> }
  | { t: 'f'; u: string }
  | { t: 'legacy-event'; user: string; e: StreamedEvent };

export function encodeLine(entry: Exclude<LogEntry, { t: 'legacy-event' }>): string {
  switch (entry.t) {
    case 'h':
      return `${JSON.stringify({ t: 'h', v: 2, salt: entry.salt })}\n`;
    case 'e':
      return `${JSON.stringify({ t: 'e', u: entry.u, ...entry.e })}\n`;
    case 'r':
      return `${JSON.stringify({ t: 'r', u: entry.u, k: entry.k, id: entry.id, v: entry.r.value, x: entry.r.expiresAt })}\n`;
    case 'c':
      return `${JSON.stringify({ t: 'c', c: entry.c, d: entry.d })}\n`;
    case 'f':
      return `${JSON.stringify({ t: 'f', u: entry.u })}\n`;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const name = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

/**
 * A log line as the entry it records, or undefined for a line that is not one. Events are checked as
 * the `event` call checks one (so a hand-edited or damaged log cannot hold what the API refuses);
 * the other kinds by their own shape.
 */
export function decodeLine(text: string): LogEntry | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(raw)) return undefined;
  const { t, u } = raw;
  if (t === undefined) {
    const e = checkedEvent(raw);
    return e ? { t: 'legacy-event', user: e.user, e: e.event } : undefined;
  }
  if (t === 'h') return name(raw.salt, 200) ? { t: 'h', salt: raw.salt } : undefined;
  if (!name(u, 64) && t !== 'c') return undefined;
  const user = u as string;
  if (t === 'e') {
    const { t: _t, u: _u, ...fields } = raw;
    const e = checkedEvent({ ...fields, user });
    return e ? { t: 'e', u: user, e: e.event } : undefined;
  }
  if (t === 'r') {
    if (!name(raw.k, 64) || !name(raw.id, 256) || !isObj(raw.v) || typeof raw.x !== 'number' || !Number.isFinite(raw.x))
      return undefined;
    return { t: 'r', u: user, k: raw.k, id: raw.id, r: { value: raw.v, expiresAt: raw.x } };
  }
  if (t === 'c') {
    if (!name(raw.c, 200) || !isObj(raw.d)) return undefined;
    const d: Record<string, number> = {};
    for (const [field, v] of Object.entries(raw.d)) {
      if (field.length > 200 || typeof v !== 'number' || !Number.isFinite(v)) return undefined;
      d[field] = v;
    }
    return { t: 'c', c: raw.c, d };
  }
  if (t === 'f') return { t: 'f', u: user };
  return undefined;
}

function checkedEvent(raw: Record<string, unknown>): { user: string; event: StreamedEvent } | undefined {
  try {
    // Times already accepted once are checked without the clock-skew bound: replay happens later.
    const { call } = parseRequest(
      { ...raw, id: 0, call: 'event' },
      { ...DEFAULT_LIMITS, maxFutureSeconds: Number.MAX_SAFE_INTEGER },
    );
    if (call.call !== 'event' || !('item' in call) || call.ts === undefined) return undefined;
    return {
      user: call.user,
      event: { item: call.item, type: call.type, ts: call.ts, price: call.price, quantity: call.quantity },
    };
  } catch {
    return undefined;
  }
}

/** Opens the log for appending; a torn last line gets its line end, so the next event starts a line of its own. */
export function openForAppend(path: string): number {
  const fd = openSync(path, 'a+');
  const size = fstatSync(fd).size;
  if (size > 0) {
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] !== 0x0a) writeSync(fd, '\n');
  }
  return fd;
}

export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Nothing is waiting on this descriptor any more; a failed close loses nothing.
  }
}
