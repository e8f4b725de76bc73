import type { StreamedEvent } from '../protocol/calls.js';
import { Counters } from './counters.js';
import { EventLog, type EventLogOptions } from './event-log.js';
import { encodeLine, type LogEntry } from './log-lines.js';
import { lockLog } from './lock.js';
import { newSalt, Pseudonyms } from '../util/pseudonym.js';
import { dropLinesMentioning } from './rejected.js';
import {
  REJECTED_KIND,
  type Durability,
  type OpenSummary,
  type StateStore,
  type StoredRecord,
  type StoreStats,
  type Tombstones,
  type UserExport,
  type UserState,
} from './store.js';
import { UserMemory, type UserMemoryOptions } from './user-memory.js';

export interface EmbeddedStoreOptions extends UserMemoryOptions {
  /** The durable log (absent: state lives in memory only and is lost with the process). */
  log?: EventLogOptions;
}

/**
 * The embedded default: state held in this process's memory (bounded), and, with a log, written and
 * synced to it before it is acknowledged and replayed from it at start. One process writes a log
 * (it takes `<log>.lock`); several replicas share state through the Redis store instead.
 */
export class EmbeddedStore implements StateStore {
  readonly backend = 'embedded';
  private readonly memory: UserMemory;
  private readonly counters = new Counters();
  private readonly forgotten = new Set<string>();
  private readonly log: EventLog | undefined;
  private lock: { release: () => void } | undefined;
  private names = new Pseudonyms(newSalt());

  constructor(private readonly o: EmbeddedStoreOptions) {
    this.memory = new UserMemory(o);
    this.log = o.log ? new EventLog(o.log) : undefined;
  }

  /**
   * Replays the log, drops what the bundle already learned from, and rewrites the log to hold only
   * what is kept. A log that cannot be rewritten (no room for the copy) is appended to as it is.
   */
  async open(referenceTime: number): Promise<OpenSummary> {
    if (!this.log) return { events: 0, unreadable: 0, kept: 0 };
    this.lock = lockLog(this.log.path);
    let salt: string | undefined;
    let events = 0;
    const legacy: { user: string; e: StreamedEvent }[] = [];
    const replay = await this.log.replay((entry) => {
      if (entry.t === 'e' || entry.t === 'legacy-event') events++;
      if (entry.t === 'h') salt ??= entry.salt;
      else if (entry.t === 'legacy-event') legacy.push(entry);
      else this.apply(entry);
    });
    if (salt) this.names = new Pseudonyms(salt);
    // Lines of the first format hold raw ids: stored under their pseudonyms from this rewrite on.
    for (const { user, e } of legacy) this.memory.add(this.names.of(user), e);
    this.memory.resetEvicted();
    this.memory.dropBefore(referenceTime);
    const { asideError, ...read } = replay;
    const found = { ...read, events };
    try {
      // Lines that could not be kept aside stay in the log: it is not rewritten this time.
      if (asideError !== undefined)
        throw new Error(`the lines that are not events could not be kept in ${this.log.path}.rejected (${asideError})`);
      await this.log.rewrite(() => this.snapshot());
      return { ...found, kept: this.memory.heldEvents };
    } catch (e) {
      this.log.openAsIs();
      return { ...found, kept: this.memory.heldEvents, rewriteError: (e as Error).message };
    }
  }

  private apply(entry: Exclude<LogEntry, { t: 'h' | 'legacy-event' }>): void {
    if (entry.t === 'e') this.memory.add(entry.u, entry.e);
    else if (entry.t === 'r') this.memory.putRecord(entry.u, entry.k, entry.id, entry.r);
    else if (entry.t === 'c') this.counters.increment(entry.c, entry.d);
    else {
      this.memory.remove(entry.u);
      this.forgotten.add(entry.u);
    }
  }

  /**
   * The lines a rewritten log holds: the header, then every user's events and records, counters and
   * tombstones. What is held is copied now (a rewrite writes while entries keep arriving, and those
   * reach the new log separately); the lines are encoded as the rewrite asks for them.
   */
  private snapshot(): Iterable<string> {
    const salt = this.names.salt;
    const users = this.memory.snapshot();
    const counters = [...this.counters.entries()];
    const forgotten = [...this.forgotten];
    return (function* () {
      yield encodeLine({ t: 'h', salt });
      for (const [u, { events, records }] of users) {
        for (const e of events) yield encodeLine({ t: 'e', u, e });
        for (const [k, id, r] of records) yield encodeLine({ t: 'r', u, k, id, r });
      }
      for (const [c, d] of counters) yield encodeLine({ t: 'c', c, d });
      for (const u of forgotten) yield encodeLine({ t: 'f', u });
    })();
  }

  /** Writes an entry to the log (a failed write records nothing), then applies it. durable() makes it safe. */
  private write(entry: Exclude<LogEntry, { t: 'h' | 'legacy-event' }>): void {
    this.log?.append(encodeLine(entry));
    this.apply(entry);
  }

  async durability(): Promise<Durability> {
    if (!this.log)
      return { backend: 'embedded', guarantee: 'none', detail: 'no event log: state lives in memory only' };
    const fsync = (this.o.log?.sync ?? 'fsync') === 'fsync';
    return {
      backend: 'embedded',
      guarantee: fsync ? 'machine-crash' : 'process-crash',
      detail: fsync
        ? 'event log fsynced before each acknowledgement (group commit)'
        : 'event log written, not fsynced, before each acknowledgement',
    };
  }

  async append(user: string, e: StreamedEvent): Promise<number> {
    const n = this.add(user, e);
    // Acknowledged once on disk: a shop that got `accepted` need not send it again after a crash.
    await this.durable();
    return n;
  }

  /** Writes the event to the log (a failed write records nothing) and holds it; durable() makes it safe. */
  add(user: string, e: StreamedEvent): number {
    const u = this.names.of(user);
    this.log?.append(encodeLine({ t: 'e', u, e }));
    return this.memory.add(u, e);
  }

  /** Resolves once every entry written so far is on disk (see EventLog.durable). */
  durable(): Promise<void> {
    return this.log?.durable() ?? Promise.resolve();
  }

  async userState(user: string): Promise<UserState> {
    const u = this.names.of(user);
    const rejected = Object.keys(this.memory.records(u, REJECTED_KIND, Date.now() / 1000));
    return {
      streamed: this.memory.get(u),
      ...(rejected.length > 0 && { rejected }),
      forgotten: this.forgotten.has(u),
    };
  }

  /** The held events of a user, synchronously (the embedded store has them in memory). */
  get(user: string | undefined): StreamedEvent[] | undefined {
    return user === undefined ? undefined : this.memory.get(this.names.of(user));
  }

  async putRecord(user: string, kind: string, id: string, record: StoredRecord): Promise<void> {
    this.write({ t: 'r', u: this.names.of(user), k: kind, id, r: record });
    await this.durable();
  }

  async records(user: string, kind: string): Promise<Record<string, StoredRecord>> {
    return this.memory.records(this.names.of(user), kind, Date.now() / 1000);
  }

  async claimRecord(user: string, kind: string, id: string): Promise<boolean> {
    const u = this.names.of(user);
    const now = Date.now() / 1000;
    const record = this.memory.records(u, kind, now)[id];
    // Checked and written in one synchronous step: no other request can claim in between.
    if (!record || this.memory.records(u, `~claim:${kind}`, now)[id]) return false;
    this.write({ t: 'r', u, k: `~claim:${kind}`, id, r: { value: {}, expiresAt: record.expiresAt } });
    await this.durable();
    return true;
  }

  async increment(counter: string, deltas: Record<string, number>): Promise<void> {
    this.write({ t: 'c', c: counter, d: deltas });
    await this.durable();
  }

  async readCounter(counter: string): Promise<Record<string, number>> {
    return this.counters.read(counter);
  }

  async exportUser(user: string): Promise<UserExport> {
    const u = this.names.of(user);
    const { events, records } = this.memory.entry(u);
    return { pseudonym: u, streamed: events, records, forgotten: this.forgotten.has(u) };
  }

  /**
   * Erases the shopper: their events and records leave memory, a tombstone is written, and the log is
   * rewritten without them (fsynced), as is `<log>.rejected`, so no file keeps a line about them.
   */
  async forgetUser(user: string): Promise<{ events: number; records: number }> {
    const u = this.names.of(user);
    const removed = this.memory.remove(u);
    this.write({ t: 'f', u });
    await this.durable();
    if (this.log) {
      if (this.log.busy) await this.log.settled();
      if (this.log.writable) await this.log.rewrite(() => this.snapshot());
      await dropLinesMentioning(`${this.log.path}.rejected`, [user, u]);
    }
    return removed;
  }

  async tombstones(): Promise<Tombstones> {
    return { algorithm: 'hmac-sha256', salt: this.names.salt, pseudonyms: [...this.forgotten] };
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
    if (this.log?.writable) await this.log.rewrite(() => this.snapshot());
    return this.memory.heldEvents;
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

  async close(): Promise<void> {
    try {
      await this.log?.close();
    } finally {
      this.lock?.release();
      this.lock = undefined;
    }
  }
}
