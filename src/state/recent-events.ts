import type { StreamedEvent } from '../protocol/calls.js';

export interface RecentEventsOptions {
  /** Events kept per user (oldest dropped first). */
  maxPerUser: number;
  /**
   * Users kept; past it the user whose last event is oldest is forgotten (their requests fall back
   * to the bundle's history), so a stream of new ids cannot exhaust the main thread's memory.
   */
  maxUsers: number;
  /**
   * The same for the memory the held events take (estimated from their ids' lengths): long ids
   * would otherwise let maxUsers × maxPerUser events outgrow the heap. Absent: no bound.
   */
  maxBytes?: number;
}

/**
 * Heap an event and a user entry take beyond their ids' characters: the event object with its number
 * fields and array slot; the map entry and the list. Measured on Node 20 (heap after a forced GC,
 * 200k events parsed from JSON, ids of 8 to 245 characters): ~110 bytes an event and ~230 a user
 * beyond the ids, rounded up here.
 */
const EVENT_OVERHEAD_BYTES = 120;
const USER_OVERHEAD_BYTES = 250;
/**
 * The heap a string's characters take: V8 keeps a string whose characters are all Latin-1 at one
 * byte each and any other at two (an id in Chinese takes twice its length).
 */
export function stringBytes(s: string): number {
  return /[^\u0000-\u00ff]/.test(s) ? 2 * s.length : s.length;
}
const eventBytes = (e: StreamedEvent): number => EVENT_OVERHEAD_BYTES + stringBytes(e.item);
const userBytes = (user: string): number => USER_OVERHEAD_BYTES + stringBytes(user);

/**
 * Each user's latest streamed events, in memory, bounded by users and by estimated bytes: the
 * embedded store's working set, sent along with each request so workers stay stateless.
 */
export class RecentEvents {
  /** In order of each user's latest event, oldest first (a Map keeps insertion order). */
  private readonly byUser = new Map<string, StreamedEvent[]>();
  /** Users forgotten to stay within maxUsers and maxBytes. */
  evicted = 0;
  private bytes = 0;

  constructor(private readonly o: RecentEventsOptions) {}

  /** Adds an event; returns how many the user now has. */
  add(user: string, e: StreamedEvent): number {
    let list = this.byUser.get(user);
    if (list) this.byUser.delete(user);
    else {
      list = [];
      this.bytes += userBytes(user);
    }
    this.byUser.set(user, list);
    list.push(e);
    this.bytes += eventBytes(e);
    if (list.length > this.o.maxPerUser)
      for (const old of list.splice(0, list.length - this.o.maxPerUser)) this.bytes -= eventBytes(old);
    // The user just added is the newest, so it is never the one forgotten.
    while (this.byUser.size > this.o.maxUsers || (this.bytes > (this.o.maxBytes ?? Infinity) && this.byUser.size > 1))
      this.forgetOldest();
    return list.length;
  }

  private forgetOldest(): void {
    const [user] = this.byUser.keys();
    this.remove(user);
    this.evicted++;
  }

  /** Drops a user's events (eviction, or a shopper's request to be forgotten); true if there were any. */
  remove(user: string): boolean {
    const list = this.byUser.get(user);
    if (!list) return false;
    this.byUser.delete(user);
    this.bytes -= userBytes(user) + list.reduce((n, e) => n + eventBytes(e), 0);
    return true;
  }

  get(user: string | undefined): StreamedEvent[] | undefined {
    return user === undefined ? undefined : this.byUser.get(user);
  }

  get users(): number {
    return this.byUser.size;
  }

  /** Estimated heap the held events take, in bytes (a metric, and what maxBytes bounds). */
  get heldBytes(): number {
    return this.bytes;
  }

  get heldEvents(): number {
    let n = 0;
    for (const list of this.byUser.values()) n += list.length;
    return n;
  }

  /** Every user's events, users in order of their latest event (replaying them rebuilds this order). */
  snapshot(): (readonly [string, StreamedEvent[]])[] {
    return Array.from(this.byUser, ([user, list]) => [user, list.slice()] as const);
  }

  /** Forgets the replay's evictions: they were counted in the run that logged them already. */
  resetEvicted(): void {
    this.evicted = 0;
  }

  /**
   * Drops events the serving bundle already learned from (before its data's end). Events at the very
   * end are kept: under `--clock bundle` every streamed event is stamped with it, and counting one
   * event twice costs less than losing what was streamed at each restart.
   */
  dropBefore(referenceTime: number): void {
    for (const [u, list] of this.byUser) {
      const kept = list.filter((e) => e.ts >= referenceTime);
      if (kept.length === list.length) continue;
      for (const e of list) if (e.ts < referenceTime) this.bytes -= eventBytes(e);
      if (kept.length > 0) this.byUser.set(u, kept);
      else {
        this.byUser.delete(u);
        this.bytes -= userBytes(u);
      }
    }
  }
}
