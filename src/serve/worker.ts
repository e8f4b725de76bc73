import { Piscina } from 'piscina';
import type { ExecutionProviderChoice } from '../backends/onnx.js';
import type { BundleData } from '../bundle/model.js';
import type { Item } from '../data/types.js';
import { errorBody, type ErrorBody } from '../protocol/errors.js';
import type { WorkerResult } from '../protocol/replies.js';
import { rankContext } from '../rank/context.js';
import { instantiate } from '../rank/model.js';
import { runCall } from './calls/index.js';
import type { Task } from './calls/task.js';

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
export type TaskOutcome = { result: WorkerResult } | { error: ErrorBody; internal?: string };

export interface WorkerReply {
  version: string;
  outcomes: TaskOutcome[];
  provider?: string;
}

const init = Piscina.workerData as WorkerInit;
// Top-level await: piscina imports this module before the first task, so every worker is ready
// (index loaded, ONNX session open) before it is handed a request.
const model = await instantiate(init.bundle, {
  provider: init.provider,
  efSearch: init.efSearch,
  catalog: init.catalog,
});
const ctx = rankContext(model);
const version = model.data.manifest.version;

export default async function handle(task: WorkerTask): Promise<WorkerReply> {
  if ('ping' in task) return { version, outcomes: [], provider: model.ranker.provider };
  // Started together, the batch's requests reach the ranker in one synchronous run and share one
  // ONNX session run (see OnnxRanker); the batch is answered as one message either way.
  const outcomes = await Promise.all(task.batch.map(answer));
  return { version, outcomes };
}

async function answer(t: Task): Promise<TaskOutcome> {
  try {
    return { result: await runCall(ctx, t) };
  } catch (e) {
    const error = errorBody(e);
    return error.code === 'internal'
      ? { error, internal: e instanceof Error ? (e.stack ?? e.message) : String(e) }
      : { error };
  }
}
