import { appendFileSync, closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { OverlayEvent } from './handlers.js';

export interface OverlayOptions {
  /** Events kept per user (oldest dropped first). */
  maxPerUser: number;
  /**
   * Users kept; past it the user whose last event is oldest is forgotten (their requests fall back
   * to the bundle's history), so a stream of new ids cannot exhaust the main thread's memory.
   */
  maxUsers: number;
  /** Append-only JSONL log replayed by open(): streamed events survive a crash or restart. */
  logPath?: string;
}

/** What open() found in the log and kept of it. */
export interface ReplaySummary {
  /** Events read back from the log. */
  events: number;
  /** Lines that were not an event (a torn last line from a crash mid-write). */
  unreadable: number;
  /** Events still held once the bundle's data end and the caps applied: what the log keeps. */
  kept: number;
}

/**
 * Events streamed since the bundle was built, per user, held by the main thread and sent along with
 * each request for that user, so workers stay stateless and the next answer reflects the last event.
 */
export class EventOverlay {
  /** In order of each user's latest event, oldest first (a Map keeps insertion order). */
  private readonly byUser = new Map<string, OverlayEvent[]>();
  /** Users forgotten to stay within maxUsers. */
  evicted = 0;

  constructor(private readonly o: OverlayOptions) {}

  /**
   * Replays the log (streamed line by line, so its size is bounded by the disk, not the heap), drops
   * what the bundle already learned from, and rewrites the log to hold only what is kept. Without
   * the rewrite the log would grow with every event ever streamed and be read whole at each start,
   * and a torn last line would swallow the next event appended after it.
   */
  async open(referenceTime: number): Promise<ReplaySummary> {
    const path = this.o.logPath;
    if (!path) return { events: 0, unreadable: 0, kept: 0 };
    mkdirSync(dirname(path), { recursive: true });
    let events = 0;
    let unreadable = 0;
    if (existsSync(path)) {
      const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
      for await (const line of lines) {
        if (!line) continue;
        try {
          const e = JSON.parse(line) as { user: string } & OverlayEvent;
          if (typeof e.user !== 'string' || typeof e.item !== 'string' || typeof e.ts !== 'number') throw new Error('not an event');
          this.remember(e.user, { item: e.item, type: e.type, ts: e.ts, price: e.price, quantity: e.quantity });
          events++;
        } catch {
          unreadable++;
        }
      }
    }
    this.dropBefore(referenceTime);
    return { events, unreadable, kept: this.compact(path) };
  }

  /** Writes the held events to a new log and renames it into place: a crash leaves the old one whole. */
  private compact(path: string): number {
    const tmp = `${path}.compact`;
    const fd = openSync(tmp, 'w');
    let kept = 0;
    try {
      // Users in order of their latest event, so replaying the new log rebuilds the same recency order.
      let chunk: string[] = [];
      for (const [user, list] of this.byUser) {
        for (const e of list) chunk.push(JSON.stringify({ user, ...e }));
        kept += list.length;
        if (chunk.length >= 10_000) {
          writeSync(fd, chunk.join('\n') + '\n');
          chunk = [];
        }
      }
      if (chunk.length > 0) writeSync(fd, chunk.join('\n') + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    return kept;
  }

  private remember(user: string, e: OverlayEvent): number {
    let list = this.byUser.get(user);
    if (list) this.byUser.delete(user);
    else list = [];
    this.byUser.set(user, list);
    list.push(e);
    if (this.byUser.size > this.o.maxUsers) {
      this.byUser.delete(this.byUser.keys().next().value as string);
      this.evicted++;
    }
    if (list.length > this.o.maxPerUser) list.splice(0, list.length - this.o.maxPerUser);
    return list.length;
  }

  /** Records an event; written to the log before it is acknowledged. */
  add(user: string, e: OverlayEvent): number {
    if (this.o.logPath) appendFileSync(this.o.logPath, JSON.stringify({ user, ...e }) + '\n');
    return this.remember(user, e);
  }

  get(user: string | undefined): OverlayEvent[] | undefined {
    return user === undefined ? undefined : this.byUser.get(user);
  }

  get users(): number {
    return this.byUser.size;
  }

  /**
   * After a reload, drop events the new bundle already learned from (before its data's end). Events
   * at the very end are kept: under `--clock bundle` every streamed event is stamped with it, and
   * counting one event twice costs less than losing what was streamed at each restart.
   */
  dropBefore(referenceTime: number): void {
    for (const [u, list] of this.byUser) {
      const kept = list.filter((e) => e.ts >= referenceTime);
      if (kept.length === 0) this.byUser.delete(u);
      else this.byUser.set(u, kept);
    }
  }
}
