import type { ModelCall } from '../../protocol/calls.js';
import type { StageMarks } from '../../rank/recommend.js';
import type { UserContext } from '../../rank/user.js';

/** A validated call as a worker receives it, with what the store holds of its shopper and the request time. */
export interface Task extends UserContext {
  call: ModelCall;
}

/** When a request's own work began and its stages ended, on the worker's clock (performance.now()). */
export interface WorkMarks extends StageMarks {
  start?: number;
}
