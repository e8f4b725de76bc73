import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { DEFAULT_LIMITS, type StreamedEvent } from '../protocol/calls.js';
import { parseRequest } from '../protocol/validate.js';

/**
 * A log line as the event it records, checked as the `event` call checks one (so a hand-edited or
 * damaged log cannot hold what the API refuses), or undefined for a line that is not one.
 */
export function replayedEvent(text: string): ({ user: string } & StreamedEvent) | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  try {
    // Anything but an object of event fields (an array, a number) spreads into keys the call refuses or none.
    const { call } = parseRequest({ ...(raw as object), id: 0, call: 'event' }, DEFAULT_LIMITS);
    if (call.call !== 'event' || call.ts === undefined) return undefined;
    return {
      user: call.user,
      item: call.item,
      type: call.type,
      ts: call.ts,
      price: call.price,
      quantity: call.quantity,
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

export function line(user: string, e: StreamedEvent): string {
  return JSON.stringify({ user, ...e }) + '\n';
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
