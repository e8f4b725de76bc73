import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { readBundle } from '../bundle/read.js';
import type { Manifest } from '../bundle/manifest.js';
import type { Item } from '../data/types.js';
import type { ExecutionProviderChoice } from '../rank/onnx-ranker.js';
import type { Task } from './handlers.js';
import type { WorkerInit, WorkerReply, WorkerTask } from './worker.js';

export interface PoolOptions {
  workers: number;
  /** Tasks waiting beyond the running ones; past this, requests get `overloaded`. */
  maxQueue: number;
  concurrentTasksPerWorker: number;
  provider: ExecutionProviderChoice;
  efSearch?: number;
  catalog?: Item[];
}

export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** Thrown when the bounded queue is full; the server answers `overloaded`. */
export class QueueFullError extends Error {}

/**
 * One bundle version loaded into a piscina pool. Every worker receives the bundle's arrays as
 * SharedArrayBuffers (one copy in memory for the whole pool) and opens its own HNSW index and ONNX
 * session. A hot reload starts a new pool beside the old one and swaps when it is warm.
 */
export class ModelPool {
  /** Tasks handed to this pool and not yet settled (queued or running). */
  private pending = 0;
  private drained: (() => void) | undefined;

  private constructor(
    private readonly pool: Piscina<WorkerTask, WorkerReply>,
    readonly dir: string,
    readonly manifest: Manifest,
    readonly provider: string,
  ) {}

  static async start(versionDir: string, o: PoolOptions): Promise<ModelPool> {
    const bundle = readBundle(versionDir, { shared: true });
    const workerData: WorkerInit = { bundle, catalog: o.catalog, provider: o.provider, efSearch: o.efSearch };
    const pool = new Piscina<WorkerTask, WorkerReply>({
      // Resolved through dist/ from both src/ and dist/: workers always run the compiled worker, also
      // when this module is loaded from TypeScript sources (the tests), so `npm run build` comes first.
      filename: new URL('../../dist/serve/worker.js', import.meta.url).href,
      workerData,
      minThreads: o.workers,
      maxThreads: o.workers,
      maxQueue: o.maxQueue,
      concurrentTasksPerWorker: o.concurrentTasksPerWorker,
      // piscina's default ('sync') parks an idle worker in Atomics.wait, which also blocks its event
      // loop: a finished ONNX run would wait for the next task to be noticed. 'async' does not.
      atomics: 'async',
      idleTimeout: 2 ** 31 - 1,
    });
    // Warm every worker before taking traffic: a request must never wait for a model load.
    const pings = await Promise.all(Array.from({ length: o.workers * o.concurrentTasksPerWorker }, () => pool.run({ ping: true })));
    return new ModelPool(pool, bundle.dir, bundle.manifest, pings[0].provider ?? 'cpu');
  }

  get version(): string {
    return this.manifest.version;
  }

  get queueSize(): number {
    return this.pool.queueSize;
  }

  get utilization(): number {
    return this.pool.utilization;
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  async run(task: Task): Promise<WorkerReply> {
    this.pending++;
    try {
      return await this.pool.run(task);
    } catch (e) {
      if (e instanceof Error && /Task queue is at limit/.test(e.message)) throw new QueueFullError('the worker queue is full');
      throw e;
    } finally {
      if (--this.pending === 0) this.drained?.();
    }
  }

  /**
   * Finishes every task handed to this pool, queued ones included, then stops the workers.
   * piscina's own close() only waits for tasks already on a worker and rejects the queue.
   */
  async close(): Promise<void> {
    if (this.pending > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    await this.pool.close();
  }
}
