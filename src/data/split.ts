import { type EventColumns, NEGATIVE_CODE } from './types.js';

/** Event indices into a Dataset's columns, grouped by user and in time order within each user. */
export interface Split {
  train: Int32Array;
  test: Int32Array;
}

export interface SplitWithValidation extends Split {
  /** Train minus the validation slice: what tuning fits on. */
  fit: Int32Array;
  validation: Int32Array;
}

/** How many of a user's n interactions go to the held-out side: the last 20% rounded, at least one, none for a single interaction. */
export function heldOutCount(n: number, fraction: number): number {
  if (n <= 1) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
}

/**
 * The quality protocol's split: per user, stable-sort by timestamp (ties keep file order), the last
 * `fraction` of interactions (rounded, at least one) are held out; a user with one interaction
 * keeps it in train. `subset` restricts the split to some events (used to cut validation from train).
 * Negative feedback (a dislike, a return) is on neither side: it is not an interaction to learn
 * from or to predict (see negativeFeedback).
 */
export function temporalSplit(events: EventColumns, fraction = 0.2, subset?: Int32Array): Split {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`split fraction must be in (0, 1), got ${fraction}`);
  const idx = subset ?? positiveEvents(events);
  const ordered = subset ? Int32Array.from(idx).sort() : idx;

  // Counting sort by user keeps file order inside each user: the tie-break the protocol asks for.
  let numUsers = 0;
  for (const e of ordered) if (events.user[e] + 1 > numUsers) numUsers = events.user[e] + 1;
  const start = new Int32Array(numUsers + 1);
  for (const e of ordered) start[events.user[e] + 1]++;
  for (let u = 0; u < numUsers; u++) start[u + 1] += start[u];
  const byUser = new Int32Array(ordered.length);
  const fill = start.slice(0, numUsers);
  for (const e of ordered) byUser[fill[events.user[e]]++] = e;

  const train: number[] = [];
  const test: number[] = [];
  const ts = events.timestamp;
  for (let u = 0; u < numUsers; u++) {
    const n = start[u + 1] - start[u];
    if (n === 0) continue;
    // Array.prototype.sort is stable, so equal timestamps stay in file order.
    const mine = Array.from(byUser.subarray(start[u], start[u + 1])).sort((a, b) => ts[a] - ts[b]);
    const held = heldOutCount(n, fraction);
    for (let j = 0; j < n - held; j++) train.push(mine[j]);
    for (let j = n - held; j < n; j++) test.push(mine[j]);
  }
  return { train: Int32Array.from(train), test: Int32Array.from(test) };
}

/** Every event but negative feedback, in file order. */
export function positiveEvents(events: EventColumns): Int32Array {
  const out: number[] = [];
  for (let e = 0; e < events.length; e++) if (!NEGATIVE_CODE[events.type[e]]) out.push(e);
  return Int32Array.from(out);
}

/**
 * Per user, the items they gave negative feedback on up to `until` (Unix seconds), in CSR form: a
 * bundle keeps them so those items are never recommended to that shopper.
 */
export function negativeFeedback(
  events: EventColumns,
  numUsers: number,
  until: number,
): { indptr: Int32Array; items: Int32Array } {
  const per = new Map<number, Set<number>>();
  for (let e = 0; e < events.length; e++) {
    if (!NEGATIVE_CODE[events.type[e]] || events.timestamp[e] > until) continue;
    const u = events.user[e];
    if (!per.has(u)) per.set(u, new Set());
    per.get(u)?.add(events.item[e]);
  }
  const indptr = new Int32Array(numUsers + 1);
  const items: number[] = [];
  for (let u = 0; u < numUsers; u++) {
    items.push(...[...(per.get(u) ?? [])].sort((a, b) => a - b));
    indptr[u + 1] = items.length;
  }
  return { indptr, items: Int32Array.from(items) };
}

/** The protocol split plus a validation slice cut from train by the same rule. */
export function splitWithValidation(
  events: EventColumns,
  testFraction = 0.2,
  validationFraction = 0.2,
): SplitWithValidation {
  const { train, test } = temporalSplit(events, testFraction);
  const inner = temporalSplit(events, validationFraction, train);
  return { train, test, fit: inner.train, validation: inner.test };
}

export interface SplitSummary {
  trainEvents: number;
  testEvents: number;
  trainUsers: number;
  testUsers: number;
  validationEvents?: number;
}

export function summarizeSplit(events: EventColumns, split: Split | SplitWithValidation): SplitSummary {
  const users = (idx: Int32Array): number => new Set(Array.from(idx, (e) => events.user[e])).size;
  return {
    trainEvents: split.train.length,
    testEvents: split.test.length,
    trainUsers: users(split.train),
    testUsers: users(split.test),
    ...('validation' in split ? { validationEvents: split.validation.length } : {}),
  };
}
