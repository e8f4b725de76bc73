import {
  closeSync,
  createReadStream,
  existsSync,
  fstatSync,
  fsync,
  fsyncSync,
  ftruncateSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { VitrineError } from '../protocol/errors.js';
import { makeDirs } from '../util/output-dir.js';
import { closeQuietly, decodeLine, type LogEntry, openForAppend, syncDirectory } from './log-lines.js';

/** How a logged event is made durable before it is acknowledged (see EventLog.durable). */
export type EventLogSync = 'fsync' | 'none';

export interface EventLogOptions {
  path: string;
  /** 'fsync' (the default): durable() waits for the log to reach the disk. */
  sync?: EventLogSync;
  /** The fsync and the write to call; tests pass ones they control. */
  fsyncImpl?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
  writeImpl?: (fd: number, buffer: Buffer, offset: number, length: number) => number;
}

/** What a replay read from the log. */
export interface ReplayResult {
  /** Events read back from the log. */
  events: number;
  /** Lines that were not an event (a torn last line from a crash mid-write). */
  unreadable: number;
  /** Where those lines were appended before the rewrite dropped them from the log (`<log>.rejected`). */
  unreadableSavedTo?: string;
  /** Why those lines could not be kept aside (the log must then not be rewritten). */
  asideError?: string;
}

/** The lines a rewritten log holds, in order (the store encodes what it holds). */
export type LogSnapshot = Iterable<string>;

/**
 * The embedded store's durable half: an append-only JSONL file (see LogEntry) with group commit. An
 * entry is written before it is acknowledged and acknowledged once on disk; at start the log is
 * replayed and rewritten to hold only what is still kept, so it neither grows from start to start
 * nor carries a torn last line into the next event.
 */
export class EventLog {
  /** The log, open for appending once replayed and rewritten (or opened as it is). */
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

  constructor(private readonly o: EventLogOptions) {}

  get path(): string {
    return this.o.path;
  }

  /** The log's size in bytes. */
  get bytes(): number {
    return this.size;
  }

  /**
   * Streams the log line by line (its size is bounded by the disk, not the heap) into `onEntry`.
   * Lines that are not an entry are appended, as they were, to `<log>.rejected` (fsynced), since the
   * rewrite that follows drops them from the log.
   */
  async replay(onEntry: (entry: LogEntry) => void): Promise<ReplayResult> {
    const path = this.o.path;
    if (this.fd !== undefined) throw new Error('the event log is already open');
    let events = 0;
    let unreadable = 0;
    const aside = `${path}.rejected`;
    let asideFd: number | undefined;
    let asideError: string | undefined;
    try {
      makeDirs(dirname(path));
      if (existsSync(path)) {
        const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
        for await (const text of lines) {
          if (!text) continue;
          const entry = decodeLine(text);
          if (entry) {
            onEntry(entry);
            events++;
            continue;
          }
          unreadable++;
          if (asideError !== undefined) continue;
          try {
            asideFd ??= openSync(aside, 'a');
            writeSync(asideFd, text + '\n');
          } catch (w) {
            asideError = (w as Error).message;
          }
        }
      }
    } catch (e) {
      throw new VitrineError('io_error', `--event-log ${path}: cannot be read (${(e as Error).message})`);
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
    return {
      events,
      unreadable,
      ...(unreadable > 0 && asideError === undefined ? { unreadableSavedTo: aside } : {}),
      ...(asideError !== undefined ? { asideError } : {}),
    };
  }

  /**
   * Rewrites the log to hold `snapshot` (taken now) and whatever is appended while it is written.
   * Returns the events the new log holds. Starts at once (callers wait for `settled()` first: rewrites
   * never interleave).
   */
  rewrite(snapshot: () => LogSnapshot): Promise<number> {
    if (this.rewriting) return Promise.reject(new Error('a rewrite of the event log is already running'));
    if (this.closed) return Promise.reject(new Error('the event log is closed'));
    const done = this.writeNewLog(snapshot()).finally(() => {
      this.rewriting = undefined;
      this.appendedDuringRewrite = undefined;
    });
    this.rewriting = done;
    return done;
  }

  /** Whether a rewrite is running. */
  get busy(): boolean {
    return this.rewriting !== undefined;
  }

  /** Resolves once no rewrite is running. */
  async settled(): Promise<void> {
    while (this.rewriting) await this.rewriting.catch(() => undefined);
  }

  /** Whether a rewrite can start: the log is open (a closing log leaves a queued rewrite to the next start). */
  get writable(): boolean {
    return this.fd !== undefined && !this.closed;
  }

  /**
   * Opens the log for appending as it is, when it could not be rewritten (no room for the copy on a
   * full disk): the log is whole, and the next reload or start rewrites it.
   */
  openAsIs(): void {
    try {
      this.fd = openForAppend(this.o.path);
      this.size = fstatSync(this.fd).size;
    } catch (a) {
      throw new VitrineError('io_error', `--event-log ${this.o.path}: cannot be written (${(a as Error).message})`);
    }
  }

  /**
   * Writes what is held to a new log and renames it into place: a crash at any point leaves one
   * whole log. The writing is asynchronous, so a large log does not stall serving: the held events
   * are copied first (users in order of their latest event, so replay rebuilds the same recency
   * order), events added meanwhile are also collected, and the last step (those events, fsync,
   * rename, switching the append descriptor) runs without yielding, so no event falls between, and
   * holds nothing that can fail after the rename: the descriptor for the new log is opened before.
   */
  private async writeNewLog(held: LogSnapshot): Promise<number> {
    const path = this.o.path;
    const tmp = `${path}.compact`;
    const since: string[] = [];
    this.appendedDuringRewrite = since;
    const file = await openFile(tmp, 'w');
    let kept = 0;
    let appendFd: number | undefined;
    let previous: number | undefined;
    try {
      let chunk: string[] = [];
      for (const text of held) {
        chunk.push(text);
        kept++;
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
      throw new Error(
        `the event log was rewritten, but its directory could not be synced (${(e as Error).message}): after a machine crash the previous log may come back`,
      );
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
        if (fd === this.fd)
          this.broken = new Error(
            `the event log ${this.o.path} holds a torn line that could not be cut off (${(t as Error).message}); a reload or restart rewrites it`,
          );
      }
      throw e;
    }
    return size + done;
  }

  /** Writes a line (see encodeLine); throws (writing nothing that stays) if it cannot. Not yet durable: see durable(). */
  append(text: string): void {
    if (this.closed) throw new Error('the event log is closed');
    if (this.fd !== undefined) this.size = this.appendAll(this.fd, text, this.size);
    else if (!this.appendedDuringRewrite) throw new Error('the event log is not open: replay and rewrite it first');
    this.appendedDuringRewrite?.push(text);
    this.dirty = true;
  }

  /**
   * Resolves once every event added so far is on the disk (with sync 'fsync'; at once with 'none',
   * where an event survives a crash of the process but not of the machine). Group commit: one
   * fsync covers every event written before it started, and events written while it runs share
   * the next one, so a burst of events costs a few fsyncs, not one each.
   */
  durable(): Promise<void> {
    if ((this.o.sync ?? 'fsync') === 'none') return Promise.resolve();
    if (this.fd === undefined) return this.rewriting?.then(() => undefined) ?? Promise.resolve();
    if (!this.dirty) return this.syncing ?? Promise.resolve();
    if (!this.syncing) return this.startSync();
    this.queuedSync ??= this.syncing
      .catch(() => undefined)
      .then(() => {
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
}
