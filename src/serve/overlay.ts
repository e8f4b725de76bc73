import { closeSync, createReadStream, existsSync, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { UserError } from '../util/errors.js';
import { makeDirs } from '../util/output-dir.js';
import type { OverlayEvent } from './handlers.js';
import { DEFAULT_LIMITS, parseRequest } from './protocol.js';

/** How a logged event is made durable before it is acknowledged (see EventOverlay.durable). */
export type EventLogSync = 'fsync' | 'none';

export interface OverlayOptions {
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
  /** Append-only JSONL log replayed by open(): streamed events survive a crash or restart. */
  logPath?: string;
  /** 'fsync' (the default): durable() waits for the log to reach the disk. */
  sync?: EventLogSync;
  /** The fsync and the write to call; tests pass ones they control. */
  fsyncImpl?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
  writeImpl?: (fd: number, buffer: Buffer, offset: number, length: number) => number;
}

/** What open() found in the log and kept of it. */
export interface ReplaySummary {
  /** Events read back from the log. */
  events: number;
  /** Lines that were not an event (a torn last line from a crash mid-write). */
  unreadable: number;
  /** Where those lines were appended before the rewrite dropped them from the log (`<log>.rejected`). */
  unreadableSavedTo?: string;
  /** Events still held once the bundle's data end and the caps applied: what the log keeps. */
  kept: number;
  /** Why the log could not be rewritten (a full disk): it is appended to as it is until the next rewrite. */
  rewriteError?: string;
}

/**
 * Heap an event and a user entry take beyond their ids' characters (one byte each, as ASCII ids
 * take): the event object with its number fields and array slot; the map entry and the list.
 * Measured on Node 20 (heap after a forced GC, 200k events parsed from JSON, ids of 8 to 245
 * characters): ~110 bytes an event and ~230 a user beyond the ids, rounded up here.
 */
const EVENT_OVERHEAD_BYTES = 120;
const USER_OVERHEAD_BYTES = 250;
const eventBytes = (e: OverlayEvent): number => EVENT_OVERHEAD_BYTES + e.item.length;
const userBytes = (user: string): number => USER_OVERHEAD_BYTES + user.length;

/**
 * Events streamed since the bundle was built, per user, held by the main thread and sent along with
 * each request for that user, so workers stay stateless and the next answer reflects the last event.
 */
export class EventOverlay {
  /** In order of each user's latest event, oldest first (a Map keeps insertion order). */
  private readonly byUser = new Map<string, OverlayEvent[]>();
  /** Users forgotten to stay within maxUsers and maxBytes. */
  evicted = 0;
  /** Estimated heap the held events take (see heldBytes). */
  private bytes = 0;
  /** The log, open for appending once open() has replayed it. */
  private fd: number | undefined;
  /** Lines written since the last fsync started. */
  private dirty = false;
  /** The fsync running now, and the one waiting for it to end (it covers lines written meanwhile). */
  private syncing: Promise<void> | undefined;
  private queuedSync: Promise<void> | undefined;
  /** While the log is being rewritten: lines appended meanwhile, which the new log must also get. */
  private appendedDuringRewrite: string[] | undefined;
  private rewriting: Promise<number> | undefined;
  /** Log fsyncs started (a metric: with group commit, far fewer than events). */
  fsyncs = 0;
  /** Bytes in the log: where a torn write is cut back to. */
  private size = 0;
  /** Set when a torn write could not be cut off: the log takes no more events. */
  private broken: Error | undefined;
  private closed = false;

  /** The event log's size in bytes (0 without a log). */
  get logBytes(): number {
    return this.size;
  }

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
    if (this.fd !== undefined) throw new Error('the event log is already open');
    let events = 0;
    let unreadable = 0;
    // Lines that are not an event leave the log at the rewrite below; they are kept aside first.
    const aside = `${path}.rejected`;
    let asideFd: number | undefined;
    let asideError: string | undefined;
    try {
      makeDirs(dirname(path));
      if (existsSync(path)) {
        const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
        for await (const line of lines) {
          if (!line) continue;
          const e = replayedEvent(line);
          if (e) {
            this.remember(e.user, { item: e.item, type: e.type, ts: e.ts, price: e.price, quantity: e.quantity });
            events++;
            continue;
          }
          unreadable++;
          if (asideError !== undefined) continue;
          try {
            asideFd ??= openSync(aside, 'a');
            writeSync(asideFd, line + '\n');
          } catch (w) {
            asideError = (w as Error).message;
          }
        }
      }
    } catch (e) {
      throw new UserError(`--event-log ${path}: cannot be read (${(e as Error).message})`);
    } finally {
      if (asideFd !== undefined) {
        try {
          fsyncSync(asideFd);
        } catch (w) {
          asideError ??= (w as Error).message;
        }
        closeSync(asideFd);
      }
    }
    const unreadableAside = unreadable > 0 && asideError === undefined ? { unreadableSavedTo: aside } : {};
    // Users the caps forgot while replaying were forgotten in the run that logged them already.
    this.evicted = 0;
    this.dropBefore(referenceTime);
    try {
      // Lines that could not be kept aside stay in the log: it is not rewritten this time.
      if (asideError !== undefined) throw new Error(`the lines that are not events could not be kept in ${aside} (${asideError})`);
      return { events, unreadable, kept: await this.rewrite(), ...unreadableAside };
    } catch (e) {
      // No room for the rewritten copy (a full disk) must not keep the server from starting: the
      // log is whole, so events are appended to it as it is, and the next reload or start rewrites it.
      try {
        this.fd = openForAppend(path);
        this.size = fstatSync(this.fd).size;
      } catch (a) {
        throw new UserError(`--event-log ${path}: cannot be written (${(a as Error).message})`);
      }
      return { events, unreadable, kept: this.heldEvents(), rewriteError: (e as Error).message, ...unreadableAside };
    }
  }

  /**
   * After a reload: drops the events the new bundle learned from and rewrites the log to match, so
   * a server that is reloaded daily and never restarted does not grow its log without end. Events
   * keep arriving while the log is rewritten. Returns the events the log now holds.
   */
  async prune(referenceTime: number): Promise<number> {
    this.dropBefore(referenceTime);
    // Reloads are serialised by the server; a second prune still must not interleave with a first.
    while (this.rewriting) await this.rewriting.catch(() => undefined);
    // Closing: the rewrite running then has finished; a queued one is left to the next start.
    if (this.fd === undefined || this.closed) return this.heldEvents();
    return this.rewrite();
  }

  private heldEvents(): number {
    let n = 0;
    for (const list of this.byUser.values()) n += list.length;
    return n;
  }

  private rewrite(): Promise<number> {
    const done = this.writeNewLog().finally(() => {
      this.rewriting = undefined;
      this.appendedDuringRewrite = undefined;
    });
    this.rewriting = done;
    return done;
  }

  /**
   * Writes what is held to a new log and renames it into place: a crash at any point leaves one
   * whole log. The writing is asynchronous, so a large log does not stall serving: the held events
   * are copied first (users in order of their latest event, so replay rebuilds the same recency
   * order), events added meanwhile are also collected, and the last step (those events, fsync,
   * rename, switching the append descriptor) runs without yielding, so no event falls between, and
   * holds nothing that can fail after the rename: the descriptor for the new log is opened before.
   */
  private async writeNewLog(): Promise<number> {
    const path = this.o.logPath!;
    const tmp = `${path}.compact`;
    const snapshot = Array.from(this.byUser, ([user, list]) => [user, list.slice()] as const);
    const since: string[] = [];
    this.appendedDuringRewrite = since;
    const file = await openFile(tmp, 'w');
    let kept = 0;
    let appendFd: number | undefined;
    let previous: number | undefined;
    try {
      let chunk: string[] = [];
      for (const [user, list] of snapshot) {
        for (const e of list) chunk.push(line(user, e));
        kept += list.length;
        if (chunk.length >= 10_000) {
          await file.write(chunk.join(''));
          chunk = [];
        }
      }
      if (chunk.length > 0) await file.write(chunk.join(''));
      // The bulk reaches the disk off the main thread; only what arrived meanwhile is synced on it.
      await file.sync();
      appendFd = openSync(tmp, 'a');
      if (since.length > 0) {
        this.appendAll(appendFd, since.join(''), fstatSync(appendFd).size);
        fsyncSync(appendFd);
      }
      renameSync(tmp, path);
      previous = this.fd;
      this.fd = appendFd;
      this.size = fstatSync(appendFd).size;
      // The new log was written from memory: whatever tore the old one is behind us.
      this.broken = undefined;
      this.appendedDuringRewrite = undefined;
    } catch (e) {
      if (appendFd !== undefined) closeQuietly(appendFd);
      rmSync(tmp, { force: true });
      throw e;
    } finally {
      await file.close().catch(() => undefined);
    }
    // An fsync may still be running on the old descriptor: close it only after that one ends.
    if (previous !== undefined) {
      const old = previous;
      void (this.syncing ?? Promise.resolve()).catch(() => undefined).then(() => closeQuietly(old));
    }
    // Until the directory is synced the rename may not survive a machine crash (the old log would
    // come back without what was appended since). The new log serves either way; say so.
    try {
      syncDirectory(dirname(path));
    } catch (e) {
      throw new Error(`the event log was rewritten, but its directory could not be synced (${(e as Error).message}): after a machine crash the previous log may come back`);
    }
    return kept + since.length;
  }

  /**
   * Writes all of `text` at the end of the log (`size` bytes long). A write that fails part-way is cut back off, so
   * the next event does not land on a torn line; if even that fails, the log is refused from then
   * on rather than appended to behind a torn line.
   */
  private appendAll(fd: number, text: string, size: number): number {
    if (this.broken && fd === this.fd) throw this.broken;
    const bytes = Buffer.from(text, 'utf8');
    let done = 0;
    try {
      while (done < bytes.length) done += (this.o.writeImpl ?? writeSync)(fd, bytes, done, bytes.length - done);
    } catch (e) {
      // Even a write that threw may have put bytes in the file: always cut back to the last whole line.
      try {
        ftruncateSync(fd, size);
      } catch (t) {
        if (fd === this.fd) this.broken = new Error(`the event log ${this.o.logPath} holds a torn line that could not be cut off (${(t as Error).message}); a reload or restart rewrites it`);
      }
      throw e;
    }
    return size + done;
  }

  private remember(user: string, e: OverlayEvent): number {
    let list = this.byUser.get(user);
    if (list) this.byUser.delete(user);
    else {
      list = [];
      this.bytes += userBytes(user);
    }
    this.byUser.set(user, list);
    list.push(e);
    this.bytes += eventBytes(e);
    if (list.length > this.o.maxPerUser) for (const old of list.splice(0, list.length - this.o.maxPerUser)) this.bytes -= eventBytes(old);
    // The user just added is the newest, so it is never the one forgotten.
    while (this.byUser.size > this.o.maxUsers || (this.bytes > (this.o.maxBytes ?? Infinity) && this.byUser.size > 1)) this.forgetOldest();
    return list.length;
  }

  private forgetOldest(): void {
    const [user, list] = this.byUser.entries().next().value as [string, OverlayEvent[]];
    this.byUser.delete(user);
    this.bytes -= userBytes(user) + list.reduce((n, e) => n + eventBytes(e), 0);
    this.evicted++;
  }

  /** Records an event; written to the log before it is acknowledged (a failed write records nothing). */
  add(user: string, e: OverlayEvent): number {
    if (this.o.logPath) {
      if (this.closed) throw new Error('the event log is closed');
      const text = line(user, e);
      if (this.fd !== undefined) this.size = this.appendAll(this.fd, text, this.size);
      else if (!this.appendedDuringRewrite) throw new Error('the event log is not open: call open() first');
      this.appendedDuringRewrite?.push(text);
      this.dirty = true;
    }
    return this.remember(user, e);
  }

  /**
   * Resolves once every event added so far is on the disk (with sync 'fsync'; at once with 'none',
   * where an event survives a crash of the process but not of the machine). Group commit: one
   * fsync covers every event written before it started, and events written while it runs share
   * the next one, so a burst of events costs a few fsyncs, not one each.
   */
  durable(): Promise<void> {
    if (!this.o.logPath || (this.o.sync ?? 'fsync') === 'none') return Promise.resolve();
    if (this.fd === undefined) return this.rewriting?.then(() => undefined) ?? Promise.resolve();
    if (!this.dirty) return this.syncing ?? Promise.resolve();
    if (!this.syncing) return this.startSync();
    this.queuedSync ??= this.syncing.catch(() => undefined).then(() => {
      this.queuedSync = undefined;
      return this.startSync();
    });
    return this.queuedSync;
  }

  private startSync(): Promise<void> {
    const fd = this.fd!;
    this.dirty = false;
    this.fsyncs++;
    const sync = this.o.fsyncImpl ?? fsync;
    const p = new Promise<void>((resolve, reject) => sync(fd, (err) => (err ? reject(err) : resolve())));
    this.syncing = p;
    const clear = (): void => {
      if (this.syncing === p) this.syncing = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  /** Refuses further events, waits for any rewrite and the last fsync, then closes the log (at shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    while (this.rewriting) await this.rewriting.catch(() => undefined);
    await this.durable().catch(() => undefined);
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  get(user: string | undefined): OverlayEvent[] | undefined {
    return user === undefined ? undefined : this.byUser.get(user);
  }

  get users(): number {
    return this.byUser.size;
  }

  /** Estimated heap the held events take, in bytes (a metric, and what maxBytes bounds). */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * After a reload, drop events the new bundle already learned from (before its data's end). Events
   * at the very end are kept: under `--clock bundle` every streamed event is stamped with it, and
   * counting one event twice costs less than losing what was streamed at each restart.
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

/**
 * A log line as the event it records, checked as the `event` call checks one (so a hand-edited or
 * damaged log cannot hold what the API refuses), or undefined for a line that is not one.
 */
function replayedEvent(text: string): ({ user: string } & OverlayEvent) | undefined {
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
    return { user: call.user, item: call.item, type: call.type, ts: call.ts, price: call.price, quantity: call.quantity };
  } catch {
    return undefined;
  }
}

/** Opens the log for appending; a torn last line gets its line end, so the next event starts a line of its own. */
function openForAppend(path: string): number {
  const fd = openSync(path, 'a+');
  const size = fstatSync(fd).size;
  if (size > 0) {
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] !== 0x0a) writeSync(fd, '\n');
  }
  return fd;
}

function line(user: string, e: OverlayEvent): string {
  return JSON.stringify({ user, ...e }) + '\n';
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Nothing is waiting on this descriptor any more; a failed close loses nothing.
  }
}
