import { Piscina } from 'piscina';
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

/** What the main thread hands each worker: the bundle (large arrays in shared memory) and settings. */
export interface WorkerInit {
  bundle: BundleData;
  catalog?: Item[];
  provider: ExecutionProviderChoice;
  efSearch?: number;
}

/** Requests that reached the pool together travel as one message (see ModelPool). */
export type WorkerTask = { batch: Task[] } | { ping: true };

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
  provider?: string;
  /** When the worker began and finished the batch, epoch ms (comparable across threads). */
  began?: number;
  finished?: number;
}

const init = Piscina.workerData as WorkerInit;
// Top-level await: piscina imports this module before the first task, so every worker is ready
// (index loaded, ONNX session open) before it is handed a request.
const model = await instantiate(init.bundle, {
  provider: init.provider,
  efSearch: init.efSearch,
  catalog: init.catalog,
  batchedScans: true,
});
const ctx = rankContext(model);
const version = model.data.manifest.version;

export default async function handle(task: WorkerTask): Promise<WorkerReply> {
  if ('ping' in task) return { version, outcomes: [], provider: model.ranker.provider };
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
