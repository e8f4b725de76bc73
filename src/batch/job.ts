import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { BundleData } from '../bundle/model.js';
import { readBundle, resolveBundleVersion } from '../bundle/read.js';
import { forThread } from '../bundle/threads.js';
import { VitrineError } from '../protocol/errors.js';
import { checkOutputFile } from '../util/output-dir.js';
import { counted, note, Progress } from '../util/progress.js';
import { blockSizeFor, MAX_BLOCK_ROWS, maxBlockUsers } from './blocks.js';
import { jobSignature, resumePoint, saveCheckpoint, type Checkpoint } from './checkpoint.js';
import { planSignature, type PromotionPlan } from './promotion-plan.js';
import { chooseKernel, workersFor, type KernelTrial } from './choose-kernel.js';
import { KERNELS, type KernelName } from './kernels/kernel.js';
import { csvHeader, formatOf, type OutputFormat } from './output.js';
import { checkUsersFile, readUserIds, reportUserIds } from './users.js';
import type { BatchOptions, BatchSummary } from './options.js';
import type { BatchReply, BatchTask, BatchWorkerInit } from './worker.js';

export function defaultBatchWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** What the scoring depends on besides the bundle and the users: part of the job's signature and of every worker's set-up. */
interface JobSettings {
  k: number;
  format: OutputFormat;
  propensity: boolean;
  segments: boolean;
  excludeSeen: boolean;
  availableOnly: boolean;
  promotions?: PromotionPlan;
}

/** A job ready to run: the bundle, the users in order, and what identifies the job for --resume. */
interface PreparedJob {
  dir: string;
  bundle: BundleData;
  settings: JobSettings;
  numItems: number;
  userIndex: Map<string, number>;
  ids: readonly string[];
  idReport: { unknown: number; repeated: number };
  signature: string;
  blockSize: number;
}

/**
 * Bulk scoring: exact top-K over the whole catalogue for every requested user, in blocks spread over
 * a piscina pool, appended in user order. After every block the output is fsynced and a checkpoint
 * (users done, bytes) is renamed into place, so `--resume` truncates any torn tail and continues
 * with no user duplicated or missing.
 */
export async function runBatch(o: BatchOptions): Promise<BatchSummary> {
  const wallStart = performance.now();
  const job = await prepareJob(o);
  const { bundle, ids, numItems } = job;
  const from = resumePoint({
    out: o.out,
    resume: o.resume,
    force: o.force,
    backend: o.backend,
    signature: job.signature,
    totalUsers: ids.length,
  });
  const { backend, trials } = await pickBackend(o, job, from.backend);
  const workers = workersFor(backend, o.workers);
  const d = bundle.als.factors;
  const alone = workers < o.workers ? ` (the ${backend} backend runs in one)` : '';
  note(
    `batch scoring ${ids.length - from.start} users × ${numItems} items × ${d} dims, top ${o.k}, backend ${backend}, ${counted(workers, 'worker')}${alone}`,
  );
  const { pool, device } = await startPool({ bundle, kernel: backend, ...job.settings }, workers, backend);
  if (device) note(`the ${backend} kernel runs on ${device}`);
  const checkpoint: Checkpoint = {
    signature: job.signature,
    backend,
    usersDone: from.start,
    bytes: from.bytes,
    totalUsers: ids.length,
    complete: false,
    coldStart: from.coldStart,
  };
  const started = performance.now();
  const csv =
    job.settings.format === 'csv' ? csvHeader(o.propensity, o.segments, Boolean(job.settings.promotions)) : undefined;
  await writeBlocks({
    pool,
    out: o.out,
    csv,
    ids,
    userIndex: job.userIndex,
    blockSize: job.blockSize,
    window: workers * 2,
    checkpoint,
  });
  const seconds = (performance.now() - started) / 1000;
  const scored = checkpoint.usersDone - from.start;
  return {
    out: o.out,
    bundle: job.dir,
    users: ids.length,
    resumedFrom: from.start,
    items: numItems,
    dims: d,
    k: o.k,
    backend,
    backendTrials: trials,
    device,
    workers,
    coldStart: checkpoint.coldStart ?? 0,
    unknownUsers: job.idReport.unknown,
    repeatedUsers: job.idReport.repeated,
    seconds: Number(seconds.toFixed(2)),
    wallSeconds: Number(((performance.now() - wallStart) / 1000).toFixed(2)),
    usersPerSecond: Math.round(scored / Math.max(seconds, 1e-9)),
    gflops: Number(((2 * scored * numItems * d) / Math.max(seconds, 1e-9) / 1e9).toFixed(2)),
    bytes: checkpoint.bytes,
  };
}

/** Checks the request (paths before the minutes spent loading), loads the bundle and the users, and sizes the blocks. */
async function prepareJob(o: BatchOptions): Promise<PreparedJob> {
  const format = formatOf(o.out);
  if (!o.all && !o.usersFile) throw new VitrineError('invalid_argument', 'give --all or --users <file>');
  if (o.usersFile !== undefined) checkUsersFile(o.usersFile);
  checkOutputFile('--out', o.out);
  if (existsSync(o.out) && !o.resume && !o.force) {
    throw new VitrineError(
      'conflict',
      `${o.out} exists; use --resume to continue an interrupted run or --force to overwrite`,
    );
  }
  const dir = resolveBundleVersion(o.bundle);
  const bundle = readBundle(dir, { shared: true });
  const numItems = o.availableOnly ? bundle.items.filter((it) => it.available).length : bundle.items.length;
  if (numItems === 0) {
    throw new VitrineError(
      'invalid_argument',
      `${dir}: no item is available to recommend (use --include-unavailable to score them anyway)`,
    );
  }
  const userIndex = new Map(bundle.userIds.map((id, u) => [id, u]));
  const ids = o.usersFile ? await readUserIds(o.usersFile) : bundle.userIds;
  const idReport = o.usersFile ? reportUserIds(o.usersFile, ids, userIndex) : { unknown: 0, repeated: 0 };
  const settings: JobSettings = {
    k: o.k,
    format,
    propensity: o.propensity,
    segments: o.segments,
    excludeSeen: o.excludeSeen,
    availableOnly: o.availableOnly,
    promotions: o.promotions ? await o.promotions(bundle.segments.centroids.length) : undefined,
  };
  const blockSize = o.blockSize === 'auto' ? blockSizeFor(numItems, o.k) : o.blockSize;
  const maxUsers = maxBlockUsers(numItems, o.k);
  if (blockSize > maxUsers) {
    const rows = blockSize * Math.min(o.k, numItems);
    throw new VitrineError(
      'invalid_argument',
      `--block ${blockSize} with --k ${o.k} makes blocks of ${rows} result rows; at most ${MAX_BLOCK_ROWS} fit one block's output: use --block ${maxUsers} or less (or leave it to auto)`,
    );
  }
  return {
    dir,
    bundle,
    settings,
    numItems,
    userIndex,
    ids,
    idReport,
    signature: jobSignature(
      bundle.manifest.files,
      { ...settings, promotions: planSignature(settings.promotions) },
      ids,
    ),
    blockSize,
  };
}

/** The backend: the one a resumed run started with, the one asked for, or the fastest measured here. */
async function pickBackend(
  o: BatchOptions,
  job: PreparedJob,
  resumed: KernelName | undefined,
): Promise<{ backend: KernelName; trials?: KernelTrial[] }> {
  let backend: KernelName;
  let trials: KernelTrial[] | undefined;
  if (resumed) backend = resumed;
  else if (o.backend === 'auto')
    ({ best: backend, trials } = await chooseKernel(
      job.bundle.als.itemFactors,
      job.numItems,
      job.bundle.als.factors,
      16,
      o.k,
      o.workers,
    ));
  else backend = o.backend;
  if (!KERNELS.includes(backend))
    throw new VitrineError('invalid_argument', `--backend ${backend}: expected auto, ${KERNELS.join(', ')}`);
  return { backend, trials };
}

/**
 * The batch workers, every one warm (model loaded, kernel made) before the clock starts and before
 * the output is touched, so a backend that cannot run here leaves no file behind: an empty block each.
 */
async function startPool(
  init: BatchWorkerInit,
  workers: number,
  backend: KernelName,
): Promise<{ pool: Piscina<BatchTask, BatchReply>; device?: string }> {
  const filename = new URL('../../dist/batch/worker.js', import.meta.url).href;
  const pool = new Piscina<BatchTask, BatchReply>({
    filename,
    workerData: { ...init, bundle: forThread(init.bundle) },
    minThreads: workers,
    maxThreads: workers,
    atomics: 'async',
    idleTimeout: 2 ** 31 - 1,
  });
  try {
    const warm = (
      await Promise.all(Array.from({ length: workers }, () => pool.run({ users: new Int32Array(0), ids: [] })))
    )[0];
    if (warm.unavailable) throw new VitrineError('invalid_argument', `--backend ${backend}: ${warm.unavailable}`);
    return { pool, device: warm.device };
  } catch (e) {
    await pool.destroy();
    throw e;
  }
}

interface BlockRun {
  pool: Piscina<BatchTask, BatchReply>;
  out: string;
  /** The CSV header, written first into a new CSV output. */
  csv?: string;
  ids: readonly string[];
  userIndex: ReadonlyMap<string, number>;
  blockSize: number;
  /** Blocks in flight at once. */
  window: number;
  /** Where the output stands; updated (and saved) after every block. */
  checkpoint: Checkpoint;
}

/**
 * Scores the users from the checkpoint on and appends each block in order, fsyncing it and saving the
 * checkpoint after it. Ctrl-C finishes the blocks in flight and stops (resumable); the pool is
 * destroyed either way.
 */
async function writeBlocks(r: BlockRun): Promise<void> {
  const cp = r.checkpoint;
  const { ids } = r;
  const start = cp.usersDone;
  // Before the output is touched: an output of this command always has a checkpoint beside it.
  if (start === 0) await saveCheckpoint(`${r.out}.checkpoint.json`, cp);
  const fd = openSync(r.out, cp.bytes > 0 ? 'r+' : 'w');
  ftruncateSync(fd, cp.bytes);
  if (cp.bytes === 0 && r.csv !== undefined) {
    const header = Buffer.from(r.csv);
    writeSync(fd, header, 0, header.length, 0);
    cp.bytes = header.length;
  }
  const progress = new Progress('batch-score', ids.length - start, 'users');
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    note('\ninterrupted: finishing the blocks in flight, then stopping (continue with --resume)');
  };
  process.once('SIGINT', onSigint);
  const inFlight = new Map<number, Promise<BatchReply>>();
  try {
    const blocks: { from: number; to: number }[] = [];
    for (let from = start; from < ids.length; from += r.blockSize)
      blocks.push({ from, to: Math.min(ids.length, from + r.blockSize) });
    const submit = (b: number): void => {
      const slice = ids.slice(blocks[b].from, blocks[b].to);
      inFlight.set(b, r.pool.run({ users: Int32Array.from(slice, (id) => r.userIndex.get(id) ?? -1), ids: slice }));
    };
    let next = 0;
    for (; next < Math.min(r.window, blocks.length); next++) submit(next);
    for (let b = 0; b < blocks.length; b++) {
      const reply = await inFlight.get(b)!;
      inFlight.delete(b);
      if (!interrupted && next < blocks.length) submit(next++);
      const buf = Buffer.from(reply.text);
      // A write may take fewer bytes than asked (a disk filling up); the checkpoint must not count them.
      for (let at = 0; at < buf.length; ) at += writeSync(fd, buf, at, buf.length - at, cp.bytes + at);
      fsyncSync(fd);
      cp.bytes += buf.length;
      cp.usersDone = blocks[b].to;
      cp.coldStart = (cp.coldStart ?? 0) + reply.coldStart;
      cp.complete = cp.usersDone === ids.length;
      await saveCheckpoint(`${r.out}.checkpoint.json`, cp);
      progress.tick(blocks[b].to - blocks[b].from);
      if (interrupted && inFlight.size === 0) break;
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    progress.finish();
    closeSync(fd);
    // A block that failed (a full disk, say) leaves others in flight. They finish first: a worker
    // terminated inside an ONNX run aborts the whole process (node-addon-api's fatal error), and the
    // real error would never be shown.
    await Promise.allSettled(inFlight.values());
    await r.pool.destroy();
  }
  if (interrupted && cp.usersDone < ids.length) {
    throw new VitrineError(
      'interrupted',
      `stopped after ${cp.usersDone} of ${ids.length} users; run again with --resume to continue`,
    );
  }
}
