import { Worker } from 'node:worker_threads';
import { VitrineError } from '../protocol/errors.js';

/** What a serving worker posts: that it is ready, or one task's reply or error. */
export type FromWorker<R> =
  | { ready: true; provider: string }
  | { id: number; reply: R }
  | { id: number; error: unknown };

/** What the main thread posts to a serving worker. */
export interface ToWorker<T> {
  id: number;
  task: T;
}

interface Thread<R> {
  worker: Worker;
  ready: boolean;
  /** Tasks posted to it and not yet answered, by id. */
  tasks: Map<number, { resolve: (r: R) => void; reject: (e: unknown) => void }>;
  /** When it last went from idle to busy (performance.now()), for utilization. */
  busySince: number;
}

/**
 * A fixed set of worker threads, one message each way per task. It stands in for piscina on the
 * serving path: piscina's bookkeeping (an AsyncResource and balancer pass per task) and its second
 * wake-up per task (Atomics.notify beside postMessage) cost ~90 µs of CPU per task here against ~50
 * for a bare MessagePort (2026-12-07, 2-vCPU VM: waking a sleeping thread is most of both), paid on
 * the two cores the workers need. Queueing, batching and shedding are ModelPool's; this only
 * carries tasks to the least busy ready worker and replaces a worker that dies.
 */
export class WorkerThreads<T, R> {
  private readonly threads: Thread<R>[] = [];
  private nextId = 0;
  private busyMs = 0;
  private readonly started = performance.now();
  private closed = false;
  /** Set by close(): called once the last task handed out is answered. */
  private drained: (() => void) | undefined;

  private constructor(
    private readonly file: URL,
    private readonly workerData: unknown,
    private readonly onError: (err: unknown) => void,
  ) {}

  /**
   * Starts `count` workers and resolves once every one has loaded (posted `ready`), with the
   * provider the first reported. If any fails to start, waits for the others to settle before
   * stopping them (terminating a thread inside a native call, an ONNX session being created,
   * aborts the process) and rejects with the first failure.
   */
  static async start<T, R>(
    file: URL,
    workerData: unknown,
    count: number,
    onError: (err: unknown) => void,
    /** Start them one after another, up to the first that fails (a reload: see PoolOptions.staggered). */
    oneAtATime = false,
  ): Promise<{ threads: WorkerThreads<T, R>; provider: string }> {
    const pool = new WorkerThreads<T, R>(file, workerData, onError);
    let started: PromiseSettledResult<string>[] = [];
    if (!oneAtATime) started = await Promise.allSettled(Array.from({ length: count }, () => pool.spawn()));
    else
      while (started.length < count && started.every((s) => s.status === 'fulfilled'))
        started = [...started, ...(await Promise.allSettled([pool.spawn()]))];
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await pool.destroy();
      throw failed.reason;
    }
    return { threads: pool, provider: (started[0] as PromiseFulfilledResult<string>).value };
  }

  /** Workers running (ready or loading). */
  get size(): number {
    return this.threads.length;
  }

  /** Share of the workers' time spent with a task since start. */
  get utilization(): number {
    const now = performance.now();
    let busy = this.busyMs;
    for (const t of this.threads) if (t.tasks.size > 0) busy += now - t.busySince;
    return busy / Math.max(1, this.threads.length * (now - this.started));
  }

  /** Hands `task` to the ready worker with the fewest tasks (the first of equals). */
  run(task: T): Promise<R> {
    if (this.closed) return Promise.reject(new VitrineError('unavailable', 'the serving workers are stopping; retry'));
    let best: Thread<R> | undefined;
    for (const t of this.threads) if (t.ready && (!best || t.tasks.size < best.tasks.size)) best = t;
    if (!best)
      return Promise.reject(
        new VitrineError('unavailable', 'no serving worker is ready (one is being replaced); retry'),
      );
    const id = this.nextId++;
    const thread = best;
    return new Promise<R>((resolve, reject) => {
      // Registered before posting: postMessage throws (a task that cannot be cloned) before any reply.
      if (thread.tasks.size === 0) thread.busySince = performance.now();
      thread.tasks.set(id, { resolve, reject });
      try {
        thread.worker.postMessage({ id, task } satisfies ToWorker<T>);
      } catch (e) {
        this.settle(thread, id);
        reject(e);
      }
    });
  }

  /** Waits for every task posted, then stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.threads.some((t) => t.tasks.size > 0)) await new Promise<void>((resolve) => (this.drained = resolve));
    await this.destroy();
  }

  /** Stops every worker now; their unanswered tasks are rejected. */
  async destroy(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  private settle(t: Thread<R>, id: number): { resolve: (r: R) => void; reject: (e: unknown) => void } | undefined {
    const entry = t.tasks.get(id);
    t.tasks.delete(id);
    if (entry && t.tasks.size === 0) {
      this.busyMs += performance.now() - t.busySince;
      if (this.drained && this.threads.every((x) => x.tasks.size === 0)) this.drained();
    }
    return entry;
  }

  /** Starts one worker; resolves with its provider once it is ready, rejects if it fails first. */
  private spawn(): Promise<string> {
    const worker = new Worker(this.file, { workerData: this.workerData });
    const thread: Thread<R> = { worker, ready: false, tasks: new Map(), busySince: 0 };
    this.threads.push(thread);
    return new Promise<string>((resolve, reject) => {
      let failure: unknown;
      worker.on('message', (m: FromWorker<R>) => {
        if ('ready' in m) {
          thread.ready = true;
          resolve(m.provider);
        } else if ('reply' in m) this.settle(thread, m.id)?.resolve(m.reply);
        else this.settle(thread, m.id)?.reject(m.error);
      });
      // An uncaught exception ends the thread: 'exit' follows, and settles what it held.
      worker.on('error', (err) => {
        failure ??= err;
      });
      worker.on('exit', (code) => {
        const why = failure ?? new Error(`a serving worker exited (code ${code})`);
        this.threads.splice(this.threads.indexOf(thread), 1);
        for (const id of [...thread.tasks.keys()]) this.settle(thread, id)?.reject(why);
        if (!thread.ready) reject(why);
        else if (!this.closed) {
          // A worker lost while serving is reported and replaced, as long as the pool is open.
          this.onError(why);
          this.spawn().catch((err: unknown) => this.onError(err));
        }
      });
    });
  }
}
