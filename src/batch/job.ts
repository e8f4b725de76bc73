import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { readBundle, resolveBundleVersion } from '../bundle/read.js';
import { readLineBatches } from '../data/lines.js';
import { counted, note, Progress, warn } from '../util/progress.js';
import { chooseKernel, workersFor, type KernelTrial } from './choose-kernel.js';
import { KERNELS, type KernelName } from './kernels.js';
import { csvHeader, formatOf } from './output.js';
import type { BatchReply, BatchTask, BatchWorkerInit } from './worker.js';
import { UserError } from '../util/errors.js';
import { checkOutputFile } from '../util/output-dir.js';
import { writeFileAtomically } from '../util/atomic-file.js';

export interface BatchOptions {
  bundle: string;
  /** A file of user ids, one per line; undefined with `all`. */
  usersFile?: string;
  all: boolean;
  k: number;
  out: string;
  propensity: boolean;
  segments: boolean;
  backend: 'auto' | KernelName;
  workers: number;
  /** Users per task; 'auto' sizes the block's score matrix to ~25 MB (see blockSizeFor). */
  blockSize: number | 'auto';
  resume: boolean;
  force: boolean;
  excludeSeen: boolean;
  /** Leave out unavailable items (the default, as in `recommend`). */
  availableOnly: boolean;
}

export interface BatchSummary {
  out: string;
  bundle: string;
  users: number;
  resumedFrom: number;
  /** Items scored for every user (the available ones unless told otherwise). */
  items: number;
  dims: number;
  k: number;
  backend: KernelName;
  backendTrials?: KernelTrial[];
  /** Where the kernel ran, when not on the workers' CPU (the WebGPU adapter). */
  device?: string;
  workers: number;
  coldStart: number;
  /** Ids in --users the bundle does not know (scored as cold start). */
  unknownUsers: number;
  /** Lines of --users repeating an earlier id. */
  repeatedUsers: number;
  /** Scoring time, from warm workers to the last block on disk (what users/s and GFLOP/s use). */
  seconds: number;
  /** Everything, including reading the bundle, choosing a backend and starting workers. */
  wallSeconds: number;
  usersPerSecond: number;
  /** 2 · users · items · dims over the wall time of the scoring. */
  gflops: number;
  bytes: number;
}

interface Checkpoint {
  signature: string;
  /** The backend that wrote the output so far: a resumed run keeps it, so its bytes match. */
  backend?: KernelName;
  usersDone: number;
  bytes: number;
  totalUsers: number;
  complete: boolean;
  /** Cold-start users among those done, so a resumed run's summary counts the whole job. */
  coldStart?: number;
}

/**
 * A block's output (users × min(k, items) rows) is built as one string, and V8 caps a string's
 * length (~2^29 characters): past this many rows a CSV block with segments could exceed it.
 */
const MAX_BLOCK_ROWS = 1 << 18;

/**
 * Users per block so that a block's users × items scores stay around 25 MB (measured on 100k items,
 * 64-user blocks ran 2.1× faster than 256-user ones: the bigger matrix falls out of cache), and its
 * output stays within MAX_BLOCK_ROWS.
 */
export function blockSizeFor(numItems: number, k: number): number {
  const users = 6_400_000 / Math.max(1, numItems);
  const bySize = Math.max(16, Math.min(1024, 2 ** Math.round(Math.log2(users))));
  return Math.min(bySize, maxBlockUsers(numItems, k));
}

/** The most users a block may hold for its output to stay within MAX_BLOCK_ROWS. */
function maxBlockUsers(numItems: number, k: number): number {
  return Math.max(1, Math.floor(MAX_BLOCK_ROWS / Math.max(1, Math.min(k, numItems))));
}

export function defaultBatchWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** Paths the job reads and writes, checked before the minutes spent loading and measuring. */
function checkPaths(o: BatchOptions): void {
  if (o.usersFile !== undefined) {
    if (!existsSync(o.usersFile)) throw new UserError(`--users ${o.usersFile}: no such file`);
    if (!statSync(o.usersFile).isFile()) throw new UserError(`--users ${o.usersFile}: is a directory; name a file of user ids, one per line`);
  }
  checkOutputFile('--out', o.out);
  if (existsSync(o.out) && !o.resume && !o.force) throw new UserError(`${o.out} exists; use --resume to continue an interrupted run or --force to overwrite`);
}

/** The checkpoint beside an output, or why it is not one this command wrote. */
function readCheckpoint(path: string): Checkpoint | string {
  let cp: unknown;
  try {
    cp = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return `${path} is not a readable checkpoint (${(e as Error).message})`;
  }
  const c = cp as Partial<Checkpoint> | null;
  const valid = typeof c === 'object' && c !== null && typeof c.signature === 'string' && Number.isInteger(c.usersDone) && Number.isInteger(c.bytes) && typeof c.complete === 'boolean';
  if (!valid) return `${path} belongs to a different job or is damaged`;
  return cp as Checkpoint;
}

async function readUserIds(path: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const batch of readLineBatches(path, 'utf8')) for (const l of batch.lines) if (l.trim()) ids.push(l.trim());
  if (ids.length === 0) throw new UserError(`--users ${path}: no user ids (one per line expected)`);
  return ids;
}

/**
 * A users file with ids the bundle never saw (a typo'd column, the wrong shop) or with repeats is
 * still scored as given, in its order, but the user is told rather than left to find out from the
 * output: unknown ids get trending items, repeats are scored once per line.
 */
function reportUserIds(path: string, ids: readonly string[], known: ReadonlyMap<string, number>): { unknown: number; repeated: number } {
  const unknown = ids.filter((id) => !known.has(id));
  const repeated = ids.length - new Set(ids).size;
  if (unknown.length > 0) {
    const eg = unknown.slice(0, 3).map((id) => JSON.stringify(id)).join(', ');
    warn(`--users ${path}: ${unknown.length} of ${ids.length} ids are not in the bundle (e.g. ${eg}); they get trending items, marked cold start`);
  }
  if (repeated > 0) warn(`--users ${path}: ${repeated} ids repeat an earlier line; each line gets its own output`);
  return { unknown: unknown.length, repeated };
}

/**
 * Bulk scoring: exact top-K over the whole catalogue for every requested user, in blocks spread over
 * a piscina pool, appended in user order. After every block the output is fsynced and a checkpoint
 * (users done, bytes) is renamed into place, so `--resume` truncates any torn tail and continues
 * with no user duplicated or missing.
 */
export async function runBatch(o: BatchOptions): Promise<BatchSummary> {
  const wallStart = performance.now();
  const format = formatOf(o.out);
  if (!o.all && !o.usersFile) throw new UserError('give --all or --users <file>');
  checkPaths(o);
  const dir = resolveBundleVersion(o.bundle);
  const bundle = readBundle(dir, { shared: true });
  const d = bundle.als.factors;
  const numItems = o.availableOnly ? bundle.items.filter((it) => it.available).length : bundle.items.length;
  if (numItems === 0) throw new UserError(`${dir}: no item is available to recommend (use --include-unavailable to score them anyway)`);
  const userIndex = new Map(bundle.userIds.map((id, u) => [id, u]));
  const ids = o.usersFile ? await readUserIds(o.usersFile) : bundle.userIds;
  const idReport = o.usersFile ? reportUserIds(o.usersFile, ids, userIndex) : { unknown: 0, repeated: 0 };
  const signature = createHash('sha256')
    // The bundle by content (its files' checksums), not by path: a moved or symlinked copy resumes.
    .update(JSON.stringify({ files: bundle.manifest.files, k: o.k, format, propensity: o.propensity, segments: o.segments, excludeSeen: o.excludeSeen, availableOnly: o.availableOnly }))
    .update(ids.join('\n'))
    .digest('hex');

  const blockSize = o.blockSize === 'auto' ? blockSizeFor(numItems, o.k) : o.blockSize;
  if (blockSize > maxBlockUsers(numItems, o.k)) throw new UserError(`--block ${blockSize} with --k ${o.k} makes blocks of ${blockSize * Math.min(o.k, numItems)} result rows; at most ${MAX_BLOCK_ROWS} fit one block's output: use --block ${maxBlockUsers(numItems, o.k)} or less (or leave it to auto)`);

  const checkpointPath = `${o.out}.checkpoint.json`;
  let start = 0;
  let bytes = 0;
  let coldStart = 0;
  let resumedBackend: KernelName | undefined;
  /** Why the checkpoint cannot be resumed, or undefined when it can. */
  const unresumable = (cp: Checkpoint): string | undefined => {
    if (cp.signature !== signature) return `${checkpointPath} belongs to a different job (bundle, users or options changed)`;
    if (cp.bytes > 0 && (!existsSync(o.out) || statSync(o.out).size < cp.bytes)) return `${o.out} is shorter than its checkpoint says (${cp.bytes} bytes)`;
    // Backends agree on the items but not on the last digits of scores: keep the one that started.
    if (cp.backend && o.backend !== 'auto' && o.backend !== cp.backend) return `this run was started with --backend ${cp.backend}; resume it with that backend (or auto)`;
    return undefined;
  };
  if (o.resume && existsSync(checkpointPath)) {
    const cp = readCheckpoint(checkpointPath);
    const why = typeof cp === 'string' ? cp : unresumable(cp);
    // --force with --resume: continue when the checkpoint allows it, start over when it does not.
    if (why !== undefined && !o.force) throw new UserError(`--resume: ${why}; start again with --force`);
    if (why !== undefined) warn(`--resume --force: ${why}; starting again from the first user`);
    else if (typeof cp !== 'string') {
      resumedBackend = cp.backend;
      start = cp.usersDone;
      bytes = cp.bytes;
      coldStart = cp.coldStart ?? 0;
      if (cp.complete) note(`${o.out} is already complete (${cp.usersDone} users)`);
      else note(`resuming after ${start} of ${ids.length} users`);
    }
  } else if (o.resume) {
    // Every output this command starts gets its checkpoint at once (below), so an output without
    // one is somebody else's file, not an interrupted run.
    if (existsSync(o.out) && statSync(o.out).size > 0 && !o.force) throw new UserError(`--resume: ${o.out} has no checkpoint (${checkpointPath}), so it was not started by batch-score; refusing to overwrite it (use --force)`);
    note(`--resume: no checkpoint (${checkpointPath}), so nothing was started; starting from the first user`);
  }

  let backend: KernelName;
  let trials: KernelTrial[] | undefined;
  if (resumedBackend) backend = resumedBackend;
  else if (o.backend === 'auto') ({ best: backend, trials } = await chooseKernel(bundle.als.itemFactors, numItems, d, 16, o.k, o.workers));
  else backend = o.backend;
  if (!KERNELS.includes(backend)) throw new UserError(`--backend ${backend}: expected auto, ${KERNELS.join(', ')}`);
  const workers = workersFor(backend, o.workers);
  note(`batch scoring ${ids.length - start} users × ${numItems} items × ${d} dims, top ${o.k}, backend ${backend}, ${counted(workers, 'worker')}${workers < o.workers ? ` (the ${backend} backend runs in one)` : ''}`);

  const saveCheckpoint = (usersDone: number, complete: boolean): Promise<void> => {
    const cp: Checkpoint = { signature, backend, usersDone, bytes, totalUsers: ids.length, complete, coldStart };
    return writeFileAtomically(checkpointPath, JSON.stringify(cp));
  };
  const init: BatchWorkerInit = { bundle, kernel: backend, k: o.k, format, propensity: o.propensity, segments: o.segments, excludeSeen: o.excludeSeen, availableOnly: o.availableOnly };
  const pool = new Piscina<BatchTask, BatchReply>({ filename: new URL('../../dist/batch/worker.js', import.meta.url).href, workerData: init, minThreads: workers, maxThreads: workers, atomics: 'async', idleTimeout: 2 ** 31 - 1 });
  // Warm every worker (model loaded, kernel made) before the clock starts and before the output is
  // touched, so a backend that cannot run here leaves no file behind: an empty block each.
  let device: string | undefined;
  try {
    const warm = (await Promise.all(Array.from({ length: workers }, () => pool.run({ users: new Int32Array(0), ids: [] }))))[0];
    if (warm.unavailable) throw new UserError(`--backend ${backend}: ${warm.unavailable}`);
    device = warm.device;
  } catch (e) {
    await pool.destroy();
    throw e;
  }
  if (device) note(`the ${backend} kernel runs on ${device}`);

  // Before the output is touched: an output of this command always has a checkpoint beside it.
  if (start === 0) await saveCheckpoint(0, false);
  const fd = openSync(o.out, bytes > 0 ? 'r+' : 'w');
  ftruncateSync(fd, bytes);
  if (bytes === 0 && format === 'csv') {
    const header = Buffer.from(csvHeader(o.propensity, o.segments));
    writeSync(fd, header, 0, header.length, 0);
    bytes = header.length;
  }

  const progress = new Progress('batch-score', ids.length - start, 'users');
  const started = performance.now();
  let done = start;
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    note('\ninterrupted: finishing the blocks in flight, then stopping (continue with --resume)');
  };
  process.once('SIGINT', onSigint);
  const inFlight = new Map<number, Promise<BatchReply>>();
  try {
    const blocks: { from: number; to: number }[] = [];
    for (let from = start; from < ids.length; from += blockSize) blocks.push({ from, to: Math.min(ids.length, from + blockSize) });
    const submit = (b: number): void => {
      const { from, to } = blocks[b];
      const slice = ids.slice(from, to);
      inFlight.set(b, pool.run({ users: Int32Array.from(slice, (id) => userIndex.get(id) ?? -1), ids: slice }));
    };
    const window = workers * 2;
    let next = 0;
    for (; next < Math.min(window, blocks.length); next++) submit(next);
    for (let b = 0; b < blocks.length; b++) {
      const reply = await inFlight.get(b)!;
      inFlight.delete(b);
      if (!interrupted && next < blocks.length) submit(next++);
      const buf = Buffer.from(reply.text);
      // A write may take fewer bytes than asked (a disk filling up); the checkpoint must not count them.
      for (let at = 0; at < buf.length; ) at += writeSync(fd, buf, at, buf.length - at, bytes + at);
      fsyncSync(fd);
      bytes += buf.length;
      done = blocks[b].to;
      coldStart += reply.coldStart;
      await saveCheckpoint(done, done === ids.length);
      progress.tick(blocks[b].to - blocks[b].from);
      if (interrupted && inFlight.size === 0) break;
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    progress.finish();
    closeSync(fd);
    // A block that failed (a full disk, say) leaves others in flight: destroying the pool rejects
    // them, and unhandled those rejections would end the process before the real error is shown.
    for (const p of inFlight.values()) p.catch(() => undefined);
    await pool.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  const scored = done - start;
  if (interrupted && done < ids.length) {
    throw new UserError(`stopped after ${done} of ${ids.length} users; run again with --resume to continue`, 130);
  }
  return {
    out: o.out,
    bundle: dir,
    users: ids.length,
    resumedFrom: start,
    items: numItems,
    dims: d,
    k: o.k,
    backend,
    backendTrials: trials,
    device,
    workers,
    coldStart,
    unknownUsers: idReport.unknown,
    repeatedUsers: idReport.repeated,
    seconds: Number(seconds.toFixed(2)),
    wallSeconds: Number(((performance.now() - wallStart) / 1000).toFixed(2)),
    usersPerSecond: Math.round(scored / Math.max(seconds, 1e-9)),
    gflops: Number(((2 * scored * numItems * d) / Math.max(seconds, 1e-9) / 1e9).toFixed(2)),
    bytes,
  };
}
