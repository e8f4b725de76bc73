import { errorBody, type ErrorBody } from '../protocol/errors.js';
import type { WorkerResult } from '../protocol/replies.js';
import type { RankContext } from '../rank/context.js';
import { runCall } from './calls/index.js';
import { toMicros } from './clock.js';
import type { Task, WorkMarks } from './calls/task.js';

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
  /** When the batch was begun and finished, epoch ms (comparable across threads). */
  began: number;
  finished: number;
}

/**
 * Answers a batch with a model loaded in this thread: a serving worker's whole job, and the main
 * thread's when it serves a request itself (InlineLane).
 */
export async function answerBatch(ctx: RankContext, version: string, task: WorkerTask): Promise<WorkerReply> {
  const began = performance.now();
  // Started together, the batch's requests reach the ranker in one synchronous run and share one
  // ONNX session run (see OnnxRanker); the batch is answered as one message either way.
  const done: { marks: WorkMarks; end: number }[] = [];
  const outcomes = await Promise.all(
    task.batch.map(async (t, j) => {
      const marks: WorkMarks = { start: performance.now() };
      const outcome = await answer(ctx, t, marks);
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

async function answer(ctx: RankContext, t: Task, marks: WorkMarks): Promise<TaskOutcome> {
  try {
    return { result: await runCall(ctx, t, marks) };
  } catch (e) {
    const error = errorBody(e);
    return error.code === 'internal'
      ? { error, internal: e instanceof Error ? (e.stack ?? e.message) : String(e) }
      : { error };
  }
}
