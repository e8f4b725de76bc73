import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ExecutionProviderChoice } from '../backends/onnx.js';
import type { BundleData } from '../bundle/model.js';
import type { Item } from '../data/types.js';
import { rankContext, type RankContext } from '../rank/context.js';
import { instantiate, type RecModel } from '../rank/model.js';
import { answerBatch, type TaskOutcome } from './answer.js';
import { toMicros } from './clock.js';
import type { Task } from './calls/task.js';
import type { Logger } from './log.js';
import { nextTurn } from '../util/steps.js';

export interface InlineLaneOptions {
  provider: ExecutionProviderChoice;
  efSearch?: number;
  catalog?: Item[];
  /** Requests reaching the pool: the lane serves only while they are light (see wants). */
  arrivals: ArrivalRate;
}

/** What loading the lane's model cost the thread that serves meanwhile. */
export interface LaneLoad {
  ms: number;
  /** The event loop's longest delay while it loaded (its steps, and whatever else ran meanwhile), ms. */
  longestStallMs: number;
}

/** A gap longer than this counts as this long: one quiet hour must not hide the burst that ends it. */
const MAX_GAP_MS = 1000;
/** Weight of the newest gap in the smoothed one: the estimate follows ~16 arrivals. */
const GAP_WEIGHT = 1 / 16;

/**
 * How long arrivals must stay light before a pool loads the main thread's model: chosen, not tuned,
 * to outlast a lull (the reload bench's 3 s pauses loaded it into the next busy phase when one light
 * arrival was enough).
 */
const STEADILY_LIGHT_MS = 2000;

/** Requests handed to a pool, as a smoothed gap between arrivals (starts quiet), against a threshold. */
export class ArrivalRate {
  private last = 0;
  private gap = MAX_GAP_MS;
  /** Since when arrivals have stayed under the threshold (undefined: they are over it now). */
  private lightSince: number | undefined = Number.NEGATIVE_INFINITY;

  constructor(private readonly perSecond: number) {}

  arrived(now: number): void {
    if (this.last > 0) this.gap += (Math.min(now - this.last, MAX_GAP_MS) - this.gap) * GAP_WEIGHT;
    this.last = now;
    if (!this.light()) this.lightSince = undefined;
    else this.lightSince ??= now;
  }

  /** Whether fewer than the threshold arrive a second. */
  light(): boolean {
    return this.gap * this.perSecond > 1000;
  }

  /** Whether arrivals have stayed under the threshold for STEADILY_LIGHT_MS (always, before any). */
  steadilyLight(now: number): boolean {
    return this.lightSince !== undefined && now - this.lightSince >= STEADILY_LIGHT_MS;
  }
}

/**
 * The main thread's own copy of the model, for a request that arrives while every worker is idle
 * and traffic is light. Handing it to a sleeping worker and taking the reply back costs two thread
 * wake-ups (~0.4 ms of a 1.8 ms median at 50 requests/s on the 100k-item bench bundle) and runs it
 * on a core that has gone cold; at that rate the main thread has the time to serve it itself. Under
 * more traffic the main thread's time belongs to the sockets and the workers serve everything.
 *
 * The model is loaded after the pool has started, in steps, with the index read off the thread
 * (see InstantiateOptions.pace), so a server taking traffic is held up by no step for long; until
 * it is ready the workers serve everything.
 */
export class InlineLane {
  private busy = false;
  private readonly ctx: RankContext;

  private constructor(
    private readonly model: RecModel,
    private readonly arrivals: ArrivalRate,
    readonly loaded: LaneLoad,
  ) {
    this.ctx = rankContext(model);
  }

  static async load(bundle: BundleData, o: InlineLaneOptions): Promise<InlineLane> {
    const began = performance.now();
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    try {
      const model = await instantiate(bundle, {
        provider: o.provider,
        efSearch: o.efSearch,
        catalog: o.catalog,
        pace: nextTurn,
      });
      return new InlineLane(model, o.arrivals, { ms: performance.now() - began, longestStallMs: delay.max / 1e6 });
    } finally {
      delay.disable();
    }
  }

  /** Whether the request at the head of the queue is served here: nothing else waiting or running. */
  wants(waiting: number, onWorkers: number): boolean {
    return !this.busy && waiting === 1 && onWorkers === 0 && this.arrivals.light();
  }

  /** Answers `task` here, with its time in the queue since `queued` (performance.now()), µs. */
  async run(task: Task, queued: number): Promise<{ version: string; outcome: TaskOutcome; queue: number }> {
    this.busy = true;
    const began = performance.now();
    try {
      const reply = await answerBatch(this.ctx, this.model.data.manifest.version, { batch: [task] });
      return { version: reply.version, outcome: reply.outcomes[0], queue: toMicros(began - queued) };
    } finally {
      this.busy = false;
    }
  }

  close(): Promise<void> {
    return this.model.ranker.release();
  }
}

/** Says in the log whether the main thread's model is ready, and what loading it cost. */
export function logLaneLoad(log: Logger, e: { loaded: LaneLoad } | { failed: unknown }): void {
  if ('loaded' in e)
    log.info(
      { ms: Math.round(e.loaded.ms), longestStallMs: Math.round(e.loaded.longestStallMs) },
      "the main thread's model is ready: it serves requests that find every worker idle",
    );
  else log.error({ err: e.failed }, "the main thread's model failed to load: the workers serve everything");
}
