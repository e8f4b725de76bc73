/** Why a request was not queued or not served: the server answers `overloaded` and counts the reason. */
export type ShedReason = 'queue_full' | 'expected_wait' | 'deadline';

export interface Shed {
  reason: ShedReason;
  message: string;
}

/** Thrown when a request is shed (see ShedReason); the server answers `overloaded`. */
export class QueueFullError extends Error {
  readonly reason: ShedReason;
  constructor(shed: Shed) {
    super(shed.message);
    this.reason = shed.reason;
  }
}
