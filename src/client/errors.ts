import type { ErrorBody } from '../protocol/errors.js';

/**
 * A call that did not succeed: the server's coded error (`invalid_field`, `overloaded`, ...), or
 * one of the client's own: `client_timeout` (no reply in time), `connection_closed` (the connection
 * went away with the request in flight), `not_connected` (no connection came back in time),
 * `too_many_in_flight` (the client's own bound on outstanding requests).
 */
export class CallError extends Error {
  readonly code: string;
  readonly field?: string;

  constructor(body: ErrorBody | { code: string; message: string; field?: string }) {
    super(body.message);
    this.name = 'CallError';
    this.code = body.code;
    this.field = body.field;
  }

  /**
   * One made where a reply (or its absence) is handled, without a stack: it would only show the
   * message handler, and capturing it was a fifth of the load tester's busy time while an overloaded
   * server refused 14,000 requests a second.
   */
  static fromReply(body: ErrorBody | { code: string; message: string }): CallError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new CallError(body);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}
