import type { StreamedEvent } from '../protocol/calls.js';
import { EventLog, type EventLogOptions } from './event-log.js';
import { RecentEvents, type RecentEventsOptions } from './recent-events.js';
import type { OpenSummary, StateStore, StoreStats } from './store.js';

export interface EmbeddedStoreOptions extends RecentEventsOptions {
  /** The durable log (absent: events live in memory only and are lost with the process). */
  log?: EventLogOptions;
}

/**
 * The embedded default: events held in this process's memory (bounded), and, with a log, written
 * and synced to it before they are acknowledged and replayed from it at start.
 */
export class EmbeddedStore implements StateStore {
  private readonly memory: RecentEvents;
  private readonly log: EventLog | undefined;

  constructor(o: EmbeddedStoreOptions) {
    this.memory = new RecentEvents(o);
    this.log = o.log ? new EventLog(o.log) : undefined;
  }

  /**
   * Replays the log, drops what the bundle already learned from, and rewrites the log to hold only
   * what is kept. A log that cannot be rewritten (no room for the copy) is appended to as it is.
   */
  async open(referenceTime: number): Promise<OpenSummary> {
    if (!this.log) return { events: 0, unreadable: 0, kept: 0 };
    const replay = await this.log.replay((user, e) => this.memory.add(user, e));
    this.memory.resetEvicted();
    this.memory.dropBefore(referenceTime);
    const { asideError, ...found } = replay;
    try {
      // Lines that could not be kept aside stay in the log: it is not rewritten this time.
      if (asideError !== undefined)
        throw new Error(`the lines that are not events could not be kept in ${this.log.path}.rejected (${asideError})`);
      return { ...found, kept: await this.log.rewrite(() => this.memory.snapshot()) };
    } catch (e) {
      this.log.openAsIs();
      return { ...found, kept: this.memory.heldEvents, rewriteError: (e as Error).message };
    }
  }

  async append(user: string, e: StreamedEvent): Promise<number> {
    const n = this.add(user, e);
    // Acknowledged once on disk: a shop that got `accepted` need not send it again after a crash.
    await this.durable();
    return n;
  }

  /** Writes the event to the log (a failed write records nothing) and holds it; durable() makes it safe. */
  add(user: string, e: StreamedEvent): number {
    this.log?.append(user, e);
    return this.memory.add(user, e);
  }

  /** Resolves once every event added so far is on disk (see EventLog.durable). */
  durable(): Promise<void> {
    return this.log?.durable() ?? Promise.resolve();
  }

  recent(user: string): Promise<StreamedEvent[] | undefined> {
    return Promise.resolve(this.memory.get(user));
  }

  /** The held events of a user, synchronously (the embedded store has them in memory). */
  get(user: string | undefined): StreamedEvent[] | undefined {
    return this.memory.get(user);
  }

  /**
   * After a reload: drops the events the new bundle learned from and rewrites the log to match, so a
   * server reloaded daily and never restarted does not grow its log without end.
   */
  async prune(referenceTime: number): Promise<number> {
    this.memory.dropBefore(referenceTime);
    // Reloads are serialised by the server; a second prune still must not interleave with a first.
    // Not awaited when idle, so that the rewrite starts before this call returns (and before a close).
    if (this.log?.busy) await this.log.settled();
    // Closing: the rewrite running then has finished; a queued one is left to the next start.
    if (!this.log?.writable) return this.memory.heldEvents;
    return this.log.rewrite(() => this.memory.snapshot());
  }

  dropBefore(referenceTime: number): void {
    this.memory.dropBefore(referenceTime);
  }

  get users(): number {
    return this.memory.users;
  }

  get evicted(): number {
    return this.memory.evicted;
  }

  get heldBytes(): number {
    return this.memory.heldBytes;
  }

  get fsyncs(): number {
    return this.log?.fsyncs ?? 0;
  }

  get logBytes(): number {
    return this.log?.bytes ?? 0;
  }

  stats(): StoreStats {
    const s: StoreStats = { users: this.users, evicted: this.evicted, heldBytes: this.heldBytes };
    return this.log ? { ...s, logFsyncs: this.log.fsyncs, logBytes: this.log.bytes } : s;
  }

  close(): Promise<void> {
    return this.log?.close() ?? Promise.resolve();
  }
}
