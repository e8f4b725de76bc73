import { availableParallelism } from 'node:os';
import type { ExecutionProviderChoice } from '../backends/onnx.js';
import type { Item } from '../data/types.js';
import type { LaneLoad } from './inline-lane.js';
import type { ModelPool } from './pool.js';

export interface PoolOptions {
  workers: number;
  /** Requests waiting for a worker; past this, requests get `overloaded`. */
  maxQueue: number;
  /**
   * Longest a request may wait for a worker, ms. One that has waited longer is answered `overloaded`
   * instead of being served late, and a new one whose expected wait is longer is refused at once.
   */
  queueDeadlineMs: number;
  /**
   * The deadline while the queue stands (more traffic than the workers can serve, not a burst they
   * will work off: see StandingQueue), ms. Shorter than `queueDeadlineMs`, it keeps the admitted
   * requests' wait short under overload, and the newest are served first.
   */
  overloadDeadlineMs: number;
  /** StandingQueue's interval, ms (tests shorten or lengthen it). */
  standingQueueMs?: number;
  /** The pool this one replaces (a reload): its traffic is judged (see ModelPool.loadLaneIfLight). */
  takesOver?: ModelPool;
  /**
   * Start the workers one after another: set once the server is listening (a reload's pools, the
   * main one and experiment variants' alike), where loading them all at once on the cores that
   * serve stalled every request meanwhile.
   */
  staggered?: boolean;
  /** Batches a worker holds at once (the next one is received while the current one runs). */
  concurrentTasksPerWorker: number;
  /** Most requests handed to a worker as one message. */
  maxBatch: number;
  provider: ExecutionProviderChoice;
  efSearch?: number;
  catalog?: Item[];
  /** Told the size of every batch sent to a worker (for metrics). */
  onBatch?: (size: number) => void;
  /** Told of a worker failing outside any request (at start-up, or a crash between tasks). */
  onWorkerError?: (err: unknown) => void;
  /**
   * Arrivals per second under which a request finding every worker idle is served by the main
   * thread's own model (InlineLane); 0: never.
   */
  inlineBelow: number;
  /** Told when the main thread's model is ready or failed to load, and of each request it serves. */
  onInline?: (event: { loaded: LaneLoad } | { failed: unknown } | { served: true }) => void;
}

type PoolSettings = Omit<PoolOptions, 'catalog' | 'onBatch' | 'onWorkerError' | 'standingQueueMs' | 'onInline'>;

/** The settings a pool takes from the server's configuration, and nothing else of it (no tokens). */
export function poolSettings(c: PoolSettings): PoolSettings {
  return {
    workers: c.workers,
    maxQueue: c.maxQueue,
    queueDeadlineMs: c.queueDeadlineMs,
    overloadDeadlineMs: c.overloadDeadlineMs,
    concurrentTasksPerWorker: c.concurrentTasksPerWorker,
    maxBatch: c.maxBatch,
    provider: c.provider,
    efSearch: c.efSearch,
    inlineBelow: c.inlineBelow,
  };
}

export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}
