import { parentPort, workerData } from 'node:worker_threads';
import type { ExecutionProviderChoice } from '../backends/onnx.js';
import type { BundleData } from '../bundle/model.js';
import type { Item } from '../data/types.js';
import { errorBody, type ErrorBody } from '../protocol/errors.js';
import type { WorkerResult } from '../protocol/replies.js';
import { rankContext } from '../rank/context.js';
import { instantiate } from '../rank/model.js';
import { runCall } from './calls/index.js';
import { toMicros } from './clock.js';
import type { Task, WorkMarks } from './calls/task.js';
import type { FromWorker, ToWorker } from './worker-threads.js';

/** What the main thread hands each worker: the bundle (large arrays in shared memory) and settings. */
export interface WorkerInit {
  bundle: BundleData;
  catalog?: Item[];
  provider: ExecutionProviderChoice;
  efSearch?: number;
}

/** Requests that reached the pool together travel as one message (see ModelPool). */
export interface WorkerTask {
  batch: Task[];
}

/** One request's outcome: a failure stays with its own request and never fails the rest of the batch. */
export type TaskOutcome = ({ result: WorkerResult } | { error: ErrorBody; internal?: string }) & { work?: WorkStages };

/**
 * Where one request's time went inside the worker, ms: waiting for the batch's earlier requests
 * (`wait`), retrieval, feature rows and the ranker (recommend only; the ranker's time includes the
 * other requests' work it is merged with), the rest of its own work (`finish`), and waiting for the
 * batch's later requests before the batch is answered as one message (`rest`).
 */
export interface WorkStages {
  wait: number;
  retrieve?: number;
  features?: number;
  ranker?: number;
  finish: number;
  rest: number;
}

export interface WorkerReply {
  version: string;
  outcomes: TaskOutcome[];
  /** When the worker began and finished the batch, epoch ms (comparable across threads). */
  began?: number;
  finished?: number;
}

const init = workerData as WorkerInit;
// The pool hands this worker no request before it says it is ready (index loaded, ONNX session open).
const model = await instantiate(init.bundle, {
  provider: init.provider,
  efSearch: init.efSearch,
  catalog: init.catalog,
  batchedScans: true,
});
const ctx = rankContext(model);
const version = model.data.manifest.version;

const port = parentPort!;
const post = (m: FromWorker<WorkerReply>): void => port.postMessage(m);
port.on('message', ({ id, task }: ToWorker<WorkerTask>) => {
  handle(task)
    .then((reply) => post({ id, reply }))
    // A reply that cannot be cloned fails its batch, not the worker.
    .catch((error: unknown) => post({ id, error }));
});
post({ ready: true, provider: model.ranker.provider });

async function handle(task: WorkerTask): Promise<WorkerReply> {
  const began = performance.now();
  // Started together, the batch's requests reach the ranker in one synchronous run and share one
  // ONNX session run (see OnnxRanker); the batch is answered as one message either way.
  const done: { marks: WorkMarks; end: number }[] = [];
  const outcomes = await Promise.all(
    task.batch.map(async (t, j) => {
      const marks: WorkMarks = { start: performance.now() };
      const outcome = await answer(t, marks);
      done[j] = { marks, end: performance.now() };
      return outcome;
    }),
  );
  const finished = performance.now();
  outcomes.forEach((o, j) => {
    o.work = stages(began, done[j].marks, done[j].end, finished);
  });
  const origin = performance.timeOrigin;
  return { version, outcomes, began: origin + began, finished: origin + finished };
}

function stages(began: number, m: WorkMarks, end: number, finished: number): WorkStages {
  const start = m.start ?? began;
  const w: WorkStages = {
    wait: toMicros(start - began),
    finish: toMicros(end - (m.ranked ?? m.retrieved ?? start)),
    rest: toMicros(finished - end),
  };
  if (m.retrieved !== undefined) w.retrieve = toMicros(m.retrieved - start);
  if (m.featured !== undefined && m.retrieved !== undefined) w.features = toMicros(m.featured - m.retrieved);
  if (m.ranked !== undefined && m.featured !== undefined) w.ranker = toMicros(m.ranked - m.featured);
  return w;
}

async function answer(t: Task, marks: WorkMarks): Promise<TaskOutcome> {
  try {
    return { result: await runCall(ctx, t, marks) };
  } catch (e) {
    const error = errorBody(e);
    return error.code === 'internal'
      ? { error, internal: e instanceof Error ? (e.stack ?? e.message) : String(e) }
      : { error };
  }
}
