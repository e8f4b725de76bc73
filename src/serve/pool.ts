import { loadBundle } from '../bundle/read.js';
import { forThread } from '../bundle/threads.js';
import type { Manifest } from '../bundle/manifest.js';
import { VitrineError } from '../protocol/errors.js';
import type { BundleData } from '../bundle/model.js';
import type { Task } from './calls/task.js';
import { toMicros } from './clock.js';
import { smokeError, smokeTest } from './smoke.js';
import { QueueFullError, type Shed } from './shed.js';
import { StandingQueue } from './standing-queue.js';
import type { TaskOutcome, WorkerReply, WorkerTask } from './answer.js';
import type { WorkerInit } from './worker.js';
import { WorkerThreads } from './worker-threads.js';
import { ArrivalRate, InlineLane } from './inline-lane.js';
import type { PoolOptions } from './pool-options.js';
import { nextTurn } from '../util/steps.js';

/** A request's result, or the error its worker reported for it alone, and where its time went. */
export interface PoolReply {
  version: string;
  outcome: TaskOutcome;
  /** ms: waiting in this pool's queue, the hand-off to the worker, and the way back to this thread. */
  queue: number;
  handoff?: number;
  back?: number;
}

/** A place in a pool's queue held at the door (see ModelPool.reserve). */
export interface Reservation {
  readonly pool: ModelPool;
  held: boolean;
  /** performance.now() at the door. */
  readonly at: number;
}

interface Waiting {
  task: Task;
  /** performance.now() when it was queued. */
  queued: number;
  resolve: (r: PoolReply) => void;
  reject: (e: unknown) => void;
}

/**
 * One bundle version loaded into a set of worker threads (WorkerThreads). Every worker receives the bundle's arrays as
 * SharedArrayBuffers (one copy in memory for the whole pool) and opens its own HNSW index and ONNX
 * session. A hot reload starts a new pool beside the old one and swaps when it is warm.
 *
 * Requests wait in this pool's own queue, and whenever a worker has room it takes its share of
 * what is waiting (the backlog over all slots, at most `maxBatch`) as one message. An idle
 * server sends each request on at once; a busy one amortises the thread hand-off (structured
 * clone, wake-up, reply) over the requests that piled up meanwhile.
 */
export class ModelPool {
  /** Requests handed to this pool and not yet settled (queued or running). */
  private pending = 0;
  private drained: (() => void) | undefined;
  private readonly queue: Waiting[] = [];
  /** Batches on workers. */
  private running = 0;
  /** Requests let in at the door and not yet queued (reading the shopper's state meanwhile): see reserve. */
  private arriving = 0;
  /** How long a request let in takes to reach the queue (the store read), ms, smoothed. */
  private doorToQueueMs = 0;
  private readonly slots: number;
  private closing: Promise<void> | undefined;
  /** Requests the workers finish per ms, smoothed: what the expected wait of a new request is judged by. */
  private serviceRate = 0;
  private readonly standing: StandingQueue;
  /** The main thread's own model, once loaded (see InlineLane). */
  private lane: InlineLane | undefined;
  /** Until the main thread's model is loaded (never with a threshold of 0). */
  private laneWanted: boolean;

  private constructor(
    private readonly pool: WorkerThreads<WorkerTask, WorkerReply>,
    /** The bundle the workers serve (its large arrays are the shared memory they read: no extra copy). */
    readonly data: BundleData,
    readonly provider: string,
    private readonly o: PoolOptions,
    /** Shared with the pool this one replaces, and the one that replaces it. */
    readonly arrivals = new ArrivalRate(o.inlineBelow),
  ) {
    this.slots = o.workers * o.concurrentTasksPerWorker;
    this.laneWanted = o.inlineBelow > 0;
    this.standing = new StandingQueue(o.standingQueueMs);
  }

  static async start(versionDir: string, options: PoolOptions): Promise<ModelPool> {
    // Nothing here keeps the replaced pool: it would keep every version it ever replaced alive.
    const { takesOver, ...o } = options;
    const bundle = await loadBundle(versionDir, { shared: true, pace: nextTurn });
    const { catalog, provider: choice, efSearch } = o;
    const workerData: WorkerInit = { bundle: forThread(bundle), catalog, provider: choice, efSearch };
    // Resolved through dist/ from both src/ and dist/: workers always run the compiled worker, also
    // when this module is loaded from TypeScript sources (the tests), so `npm run build` comes first.
    // Every worker is warm (index loaded, ONNX session open) before the pool takes a request.
    const { threads: pool, provider } = await WorkerThreads.start<WorkerTask, WorkerReply>(
      new URL('../../dist/serve/worker.js', import.meta.url),
      workerData,
      o.workers,
      // A worker failing outside any request must not end the process (one bad version on reload
      // would take the serving one down with it): reported, and the worker replaced.
      (err) => o.onWorkerError?.(err),
      o.staggered === true,
    );
    // A version that loads but cannot rank is refused before it takes a request.
    const why = await smokeTest(bundle, (batch) => pool.run({ batch }));
    if (why !== undefined) {
      await pool.destroy();
      throw smokeError(bundle.dir, why);
    }
    const started = new ModelPool(pool, bundle, provider, o, takesOver?.arrivals);
    started.loadLaneIfLight(performance.now());
    return started;
  }

  /**
   * Loads the main thread's model while the workers serve, once traffic has stayed light (it serves
   * nothing above its threshold, and loading it there cost a reload's requests their deadline); a
   * failure only leaves the workers serving everything.
   */
  private loadLaneIfLight(now: number): void {
    if (!this.laneWanted || !this.arrivals.steadilyLight(now)) return;
    this.laneWanted = false;
    const { provider, efSearch, catalog, onInline } = this.o;
    InlineLane.load(this.data, { provider, efSearch, catalog, arrivals: this.arrivals }).then(
      (lane) => {
        if (this.closing) return void lane.close();
        this.lane = lane;
        onInline?.({ loaded: lane.loaded });
      },
      (failed: unknown) => onInline?.({ failed }),
    );
  }

  get dir(): string {
    return this.data.dir;
  }

  get manifest(): Manifest {
    return this.data.manifest;
  }

  get version(): string {
    return this.manifest.version;
  }

  /** Requests waiting for a worker, with those let in at the door and still reading the store. */
  get queueSize(): number {
    return this.queue.length + this.arriving;
  }

  /** The deadline a request is held to now: the overload one while the queue is standing. */
  deadlineMs(now = performance.now()): number {
    return this.deadlineIf(this.standing.standing(now));
  }

  private deadlineIf(standing: boolean): number {
    const { overloadDeadlineMs, queueDeadlineMs } = this.o;
    return standing ? Math.min(overloadDeadlineMs, queueDeadlineMs) : queueDeadlineMs;
  }

  get utilization(): number {
    return this.pool.utilization;
  }

  get threads(): number {
    return this.pool.size;
  }

  /**
   * A place held for a request the door lets in (see admission), until `run` takes it or `release`
   * gives it back. Counted as already queued: a burst let in while the queue had room would otherwise
   * all pass, read the store, and be refused here after the read.
   */
  reserve(): Shed | Reservation {
    const shed = this.admission();
    if (shed) return shed;
    this.arriving++;
    return { pool: this, held: true, at: performance.now() };
  }

  release(r: Reservation): void {
    if (!r.held) return;
    r.held = false;
    this.arriving--;
  }

  /** Queues a request (refused if the door would refuse it now, unless it holds a place here). */
  run(task: Task, reservation?: Reservation): Promise<PoolReply> {
    const held = reservation?.pool === this && reservation.held;
    if (reservation) reservation.pool.release(reservation);
    if (held) this.doorToQueueMs = 0.9 * this.doorToQueueMs + 0.1 * (performance.now() - reservation.at);
    // A closed pool's workers are gone.
    if (this.closing)
      return Promise.reject(new VitrineError('unavailable', `bundle version ${this.version} has been unloaded; retry`));
    const shed = held ? undefined : this.admission();
    if (shed) return Promise.reject(new QueueFullError(shed));
    this.pending++;
    const queued = performance.now();
    this.arrivals.arrived(queued);
    this.loadLaneIfLight(queued);
    return new Promise<PoolReply>((resolve, reject) => {
      this.queue.push({ task, queued, resolve, reject });
      this.dispatch();
    }).finally(() => {
      if (--this.pending === 0) this.drained?.();
    });
  }

  /**
   * Refuses at the door what would only be refused later: a full queue, or a backlog the workers
   * cannot clear within the deadline at the rate they have been finishing requests. Refusing costs a
   * few microseconds on this thread; admitting a request that then waits past its deadline costs the
   * requests behind it their deadlines too. A refusal is a sign of overload (see StandingQueue).
   */
  private admission(): Shed | undefined {
    if (this.running + this.arriving < this.slots) return undefined;
    const now = performance.now();
    const deadline = this.deadlineMs(now);
    this.dropLate(now, deadline);
    // Those let in take the free slots first; the rest will wait, less what the workers finish while
    // they read the store (a slow store is not a backlog for the workers).
    const waiting = this.queue.length + Math.max(0, this.arriving - (this.slots - this.running));
    const ahead = Math.max(this.queue.length, waiting - this.doorToQueueMs * this.serviceRate);
    const expected = this.serviceRate > 0 ? ahead / this.serviceRate : 0;
    if (waiting < this.o.maxQueue && expected <= deadline) return undefined;
    this.standing.sign(now);
    if (waiting >= this.o.maxQueue)
      return { reason: 'queue_full', message: `the worker queue is full (${waiting} waiting); retry with backoff` };
    return {
      reason: 'expected_wait',
      message: `the workers are ${Math.round(expected)} ms behind (the queue deadline is ${deadline} ms); retry with backoff`,
    };
  }

  /** Past its deadline a reply is late whatever happens; serving it would make the ones behind late too. */
  private dropLate(now: number, deadline: number): void {
    // Oldest first: batches leave from either end, so the queue stays in arrival order.
    while (this.queue.length > 0 && now - this.queue[0].queued > deadline) {
      const late = this.queue.shift()!;
      this.standing.sign(now);
      late.reject(
        new QueueFullError({
          reason: 'deadline',
          message: `waited ${Math.round(now - late.queued)} ms for a worker, past the ${deadline} ms deadline; retry with backoff`,
        }),
      );
    }
  }

  private dispatch(): void {
    const now = performance.now();
    const standing = this.standing.standing(now);
    this.dropLate(now, this.deadlineIf(standing));
    if (this.lane?.wants(this.queue.length, this.running)) {
      const w = this.queue.shift()!;
      this.o.onInline?.({ served: true });
      this.lane.run(w.task, w.queued).then(w.resolve, w.reject);
    }
    while (this.running < this.slots && this.queue.length > 0) {
      // Sized by all slots, not the free ones: slots free up one at a time, and a small backlog
      // is better spread over workers about to finish than queued behind one.
      const size = Math.min(this.o.maxBatch, Math.ceil(this.queue.length / this.slots));
      // Under a standing queue the newest go first (adaptive LIFO): they still have their whole
      // deadline, the oldest are near theirs and would make every one behind them late too.
      const batch = standing ? this.queue.splice(this.queue.length - size, size) : this.queue.splice(0, size);
      this.running++;
      const sent = performance.now();
      if (sent - batch[0].queued > this.o.overloadDeadlineMs) this.standing.sign(sent);
      else if (!standing) this.standing.keptUp(sent);
      this.send(batch, sent);
      this.o.onBatch?.(size);
    }
  }

  private send(batch: Waiting[], sent: number): void {
    const settle = (reply: WorkerReply): void => {
      if (!Array.isArray(reply.outcomes) || reply.outcomes.length !== batch.length)
        throw new Error(
          `a worker answered ${String(reply.outcomes?.length)} of ${batch.length} requests (is dist/ stale? run npm run build)`,
        );
      const received = performance.now();
      this.noteService(batch.length, received - sent);
      const origin = performance.timeOrigin;
      const handoff = toMicros(reply.began - (origin + sent));
      const back = toMicros(origin + received - reply.finished);
      batch.forEach((w, j) =>
        w.resolve({
          version: reply.version,
          outcome: reply.outcomes[j],
          queue: toMicros(sent - w.queued),
          handoff,
          back,
        }),
      );
    };
    this.pool
      .run({ batch: batch.map((w) => w.task) })
      .then(settle)
      // A failed hand-off (worker crash, a reply that cannot be cloned) fails the whole batch;
      // settling an already-settled promise is a no-op, so this also covers a throwing `settle`.
      .catch((e: unknown) => batch.forEach((w) => w.reject(e)))
      .finally(() => {
        this.running--;
        this.dispatch();
      });
  }

  /** All slots together finish `slots × size / ms` requests per ms while they are busy. */
  private noteService(size: number, ms: number): void {
    const rate = (this.slots * size) / Math.max(ms, 0.05);
    this.serviceRate = this.serviceRate === 0 ? rate : 0.9 * this.serviceRate + 0.1 * rate;
  }

  /** Finishes every request handed to this pool, queued ones included (the threads' own close() does not), then stops the workers. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.pending > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      await Promise.all([this.pool.close(), this.lane?.close()]);
    })();
    return this.closing;
  }
}
