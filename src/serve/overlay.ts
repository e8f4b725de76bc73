import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { OverlayEvent } from './handlers.js';

export interface OverlayOptions {
  /** Events kept per user (oldest dropped first). */
  maxPerUser: number;
  /**
   * Users kept; past it the user whose last event is oldest is forgotten (their requests fall back
   * to the bundle's history), so a stream of new ids cannot exhaust the main thread's memory.
   */
  maxUsers: number;
  /** Append-only JSONL log replayed at start: streamed events survive a crash or restart. */
  logPath?: string;
}

/**
 * Events streamed since the bundle was built, per user, held by the main thread and sent along with
 * each request for that user, so workers stay stateless and the next answer reflects the last event.
 */
export class EventOverlay {
  /** In order of each user's latest event, oldest first (a Map keeps insertion order). */
  private readonly byUser = new Map<string, OverlayEvent[]>();
  replayed = 0;
  /** Users forgotten to stay within maxUsers. */
  evicted = 0;

  constructor(private readonly o: OverlayOptions) {
    if (o.logPath) {
      mkdirSync(dirname(o.logPath), { recursive: true });
      if (existsSync(o.logPath)) this.replay(o.logPath);
    }
  }

  private replay(path: string): void {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        const e = JSON.parse(line) as { user: string } & OverlayEvent;
        this.remember(e.user, { item: e.item, type: e.type, ts: e.ts, price: e.price, quantity: e.quantity });
        this.replayed++;
      } catch {
        // A torn last line from a crash mid-write: everything before it is intact.
      }
    }
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

  /** After a reload, drop events the new bundle already learned from (at or before its data's end). */
  dropBefore(referenceTime: number): void {
    for (const [u, list] of this.byUser) {
      const kept = list.filter((e) => e.ts > referenceTime);
      if (kept.length === 0) this.byUser.delete(u);
      else this.byUser.set(u, kept);
    }
  }
}
