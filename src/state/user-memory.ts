import type { StreamedEvent } from '../protocol/calls.js';
import { MAX_RECORDS_PER_KIND, type StoredRecord } from './store.js';

export interface UserMemoryOptions {
  /** Events kept per user (oldest dropped first). */
  maxPerUser: number;
  /**
   * Users kept; past it the user whose last write is oldest is forgotten (their requests fall back to
   * the bundle's history), so a stream of new ids cannot exhaust the main thread's memory.
   */
  maxUsers: number;
  /**
   * The same for the memory held (estimated from the strings' lengths): long ids would otherwise let
   * maxUsers × maxPerUser events outgrow the heap. Absent: no bound.
   */
  maxBytes?: number;
  /** Records kept per user and kind (the oldest to expire dropped first). */
  maxRecordsPerKind?: number;
}

/**
 * Heap an event and a user entry take beyond their strings' characters: the event object with its
 * number fields and array slot; the map entry and the list. Measured on Node 20 (heap after a forced
 * GC, 200k events parsed from JSON, ids of 8 to 245 characters): ~110 bytes an event and ~230 a user
 * beyond the ids, rounded up here. A record is taken at its JSON length plus an event's overhead.
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
const eventBytes = (e: StreamedEvent): number => EVENT_OVERHEAD_BYTES + stringBytes(e.item) + stringBytes(e.type);
const recordBytes = (id: string, r: StoredRecord): number =>
  EVENT_OVERHEAD_BYTES + stringBytes(id) + stringBytes(JSON.stringify(r.value));

interface UserEntry {
  events: StreamedEvent[];
  /** kind → id → record. */
  records?: Map<string, Map<string, StoredRecord>>;
  bytes: number;
}

/**
 * Each user's latest events and records, in memory, bounded by users and by estimated bytes: the
 * embedded store's working set. Keys are pseudonyms (see Pseudonyms).
 */
export class UserMemory {
  /** In order of each user's latest write, oldest first (a Map keeps insertion order). */
  private readonly byUser = new Map<string, UserEntry>();
  /** Users forgotten to stay within maxUsers and maxBytes. */
  evicted = 0;
  private bytes = 0;

  constructor(private readonly o: UserMemoryOptions) {}

  /** The user's entry, made the most recent (created when absent). */
  private touch(user: string): UserEntry {
    let entry = this.byUser.get(user);
    if (entry) this.byUser.delete(user);
    else {
      entry = { events: [], bytes: USER_OVERHEAD_BYTES + stringBytes(user) };
      this.bytes += entry.bytes;
    }
    this.byUser.set(user, entry);
    return entry;
  }

  private grow(entry: UserEntry, delta: number): void {
    entry.bytes += delta;
    this.bytes += delta;
  }

  /** Keeps the caps, forgetting the least recently written users; never the one just written. */
  private enforce(): void {
    while (this.byUser.size > this.o.maxUsers || (this.bytes > (this.o.maxBytes ?? Infinity) && this.byUser.size > 1)) {
      const [user] = this.byUser.keys();
      this.remove(user);
      this.evicted++;
    }
  }

  /** Adds an event; returns how many the user now has. */
  add(user: string, e: StreamedEvent): number {
    const entry = this.touch(user);
    entry.events.push(e);
    this.grow(entry, eventBytes(e));
    if (entry.events.length > this.o.maxPerUser) {
      for (const old of entry.events.splice(0, entry.events.length - this.o.maxPerUser))
        this.grow(entry, -eventBytes(old));
    }
    const n = entry.events.length;
    this.enforce();
    return n;
  }

  putRecord(user: string, kind: string, id: string, r: StoredRecord): void {
    const entry = this.touch(user);
    entry.records ??= new Map();
    let byId = entry.records.get(kind);
    if (!byId) entry.records.set(kind, (byId = new Map()));
    const old = byId.get(id);
    if (old) this.grow(entry, -recordBytes(id, old));
    byId.delete(id);
    byId.set(id, r);
    this.grow(entry, recordBytes(id, r));
    const max = this.o.maxRecordsPerKind ?? MAX_RECORDS_PER_KIND;
    while (byId.size > max) {
      const [first, rec] = byId.entries().next().value as [string, StoredRecord];
      byId.delete(first);
      this.grow(entry, -recordBytes(first, rec));
    }
    this.enforce();
  }

  /** The user's records of one kind that have not expired at `now` (Unix seconds). */
  records(user: string, kind: string, now: number): Record<string, StoredRecord> {
    const byId = this.byUser.get(user)?.records?.get(kind);
    const out: Record<string, StoredRecord> = {};
    for (const [id, r] of byId ?? []) if (r.expiresAt > now) out[id] = r;
    return out;
  }

  /** Drops a user's events and records; returns what was removed. */
  remove(user: string): { events: number; records: number } {
    const entry = this.byUser.get(user);
    if (!entry) return { events: 0, records: 0 };
    this.byUser.delete(user);
    this.bytes -= entry.bytes;
    let records = 0;
    for (const byId of entry.records?.values() ?? []) records += byId.size;
    return { events: entry.events.length, records };
  }

  get(user: string | undefined): StreamedEvent[] | undefined {
    if (user === undefined) return undefined;
    const events = this.byUser.get(user)?.events;
    return events && events.length > 0 ? events : undefined;
  }

  /** Everything held for a user (the privacy export). */
  entry(user: string): { events: StreamedEvent[]; records: Record<string, Record<string, StoredRecord>> } {
    const entry = this.byUser.get(user);
    const records: Record<string, Record<string, StoredRecord>> = {};
    for (const [kind, byId] of entry?.records ?? []) records[kind] = Object.fromEntries(byId);
    return { events: entry?.events.slice() ?? [], records };
  }

  get users(): number {
    return this.byUser.size;
  }

  /** Estimated heap the held events and records take, in bytes (a metric, and what maxBytes bounds). */
  get heldBytes(): number {
    return this.bytes;
  }

  get heldEvents(): number {
    let n = 0;
    for (const e of this.byUser.values()) n += e.events.length;
    return n;
  }

  /** Every user's events and records, users in order of their latest write (replaying them rebuilds this order). */
  snapshot(): (readonly [string, { events: StreamedEvent[]; records: [string, string, StoredRecord][] }])[] {
    return Array.from(this.byUser, ([user, e]) => {
      const records: [string, string, StoredRecord][] = [];
      for (const [kind, byId] of e.records ?? []) for (const [id, r] of byId) records.push([kind, id, r]);
      return [user, { events: e.events.slice(), records }] as const;
    });
  }

  /** Forgets the replay's evictions: they were counted in the run that logged them already. */
  resetEvicted(): void {
    this.evicted = 0;
  }

  /**
   * Drops events the serving bundle already learned from (before its data's end), and records expired
   * at `now`. Events at the very end are kept: under `--clock bundle` every streamed event is stamped
   * with it, and counting one event twice costs less than losing what was streamed at each restart.
   */
  dropBefore(referenceTime: number, now = Date.now() / 1000): void {
    for (const [u, entry] of this.byUser) {
      const kept = entry.events.filter((e) => e.ts >= referenceTime);
      for (const e of entry.events) if (e.ts < referenceTime) this.grow(entry, -eventBytes(e));
      entry.events = kept;
      for (const [kind, byId] of entry.records ?? []) {
        for (const [id, r] of byId) {
          if (r.expiresAt > now) continue;
          byId.delete(id);
          this.grow(entry, -recordBytes(id, r));
        }
        if (byId.size === 0) entry.records!.delete(kind);
      }
      if (entry.events.length === 0 && (entry.records?.size ?? 0) === 0) {
        this.byUser.delete(u);
        this.bytes -= entry.bytes;
      }
    }
  }
}
