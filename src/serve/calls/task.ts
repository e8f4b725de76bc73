import type { ModelCall, StreamedEvent } from '../../protocol/calls.js';
import type { StageMarks } from '../../rank/recommend.js';

/** A validated call as a worker receives it, with the user's streamed events and the request time. */
export interface Task {
  call: ModelCall;
  /** Streamed events of the request's user since the bundle was built, oldest first. */
  streamed?: StreamedEvent[];
  /** The shopper asked to be forgotten: the bundle's copy of their history is not used. */
  forgotten?: boolean;
  /** Request time, Unix seconds. */
  now: number;
}

/** When a request's own work began and its stages ended, on the worker's clock (performance.now()). */
export interface WorkMarks extends StageMarks {
  start?: number;
}
