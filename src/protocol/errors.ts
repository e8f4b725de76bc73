/**
 * The one error catalogue. Every error Vitrine reports, on the wire or on the command line, has a
 * code from here; the code fixes its HTTP status and the CLI's exit code, so a client, a load
 * balancer and a shell script all read the same fault the same way. Exit 2 is the caller's input
 * (a flag, a file, a field), exit 1 a fault of Vitrine or of something it depends on.
 */
export const ERRORS = {
  // Requests: what a client sent.
  bad_frame: { status: 400, exit: 2, summary: 'the frame is not valid msgpack or JSON' },
  bad_request: { status: 400, exit: 2, summary: 'the request is not an object with an id and a call' },
  unknown_call: { status: 404, exit: 2, summary: 'no such call' },
  invalid_field: { status: 400, exit: 2, summary: 'a field is missing, of the wrong type, or out of range' },
  frame_too_large: { status: 413, exit: 2, summary: 'the frame exceeds the size limit' },
  too_many_in_flight: {
    status: 429,
    exit: 2,
    summary: 'this connection has too many requests in flight, or too many replies it has not read',
  },
  unauthorized: { status: 401, exit: 2, summary: 'missing or wrong token' },
  // The server's state: retry later or elsewhere.
  overloaded: {
    status: 503,
    exit: 1,
    summary:
      'the server cannot serve the request in time (its queue is full or past its deadline); retry with back-off',
  },
  not_ready: { status: 503, exit: 1, summary: 'no model bundle is loaded yet' },
  shutting_down: { status: 503, exit: 1, summary: 'the server is draining and accepts no new requests' },
  unavailable: {
    status: 503,
    exit: 1,
    summary: 'a service or platform component Vitrine depends on is missing or does not answer',
  },
  timeout: { status: 504, exit: 1, summary: 'the request did not complete within its time limit' },
  // The command line: what a user typed or pointed at.
  usage: { status: 400, exit: 2, summary: 'the command line is not valid' },
  invalid_argument: { status: 400, exit: 2, summary: 'a flag, setting or argument has a value that is not allowed' },
  not_found: { status: 404, exit: 2, summary: 'a file, directory, bundle or version that is not there' },
  conflict: { status: 409, exit: 2, summary: 'an output exists, or is not one Vitrine wrote' },
  damaged: { status: 422, exit: 2, summary: 'a bundle or checkpoint fails its checks' },
  data_error: { status: 422, exit: 2, summary: 'a record of the input data is not valid' },
  insufficient_data: { status: 422, exit: 2, summary: 'the data is too small to learn from' },
  io_error: { status: 500, exit: 2, summary: 'a path cannot be read or written' },
  interrupted: { status: 499, exit: 130, summary: 'stopped by a signal; the work can be resumed' },
  // Faults: a bug, reported as one.
  internal: { status: 500, exit: 1, summary: 'an internal error; the request was not completed' },
} as const satisfies Record<string, { status: number; exit: number; summary: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** The codes a request over the wire can be answered with (the CLI-only ones never are). */
export const WIRE_ERROR_CODES = [
  'bad_frame',
  'bad_request',
  'unknown_call',
  'invalid_field',
  'frame_too_large',
  'too_many_in_flight',
  'unauthorized',
  'overloaded',
  'not_ready',
  'shutting_down',
  'unavailable',
  'timeout',
  'internal',
] as const satisfies readonly ErrorCode[];
export type WireErrorCode = (typeof WIRE_ERROR_CODES)[number];

/** An error with a catalogue code; anything thrown that is not one is an internal fault. */
export class VitrineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The request field at fault (its path: `filters.priceMin`, `history[2].ts`). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'VitrineError';
  }

  get exitCode(): number {
    return ERRORS[this.code].exit;
  }
}

/** A request field that is missing or wrong: the message always starts with the field's path. */
export function invalidField(field: string, problem: string): VitrineError {
  return new VitrineError('invalid_field', `${field}: ${problem}`, field);
}

export interface ErrorBody {
  code: WireErrorCode;
  message: string;
  field?: string;
}

/** The error part of a reply: a wire code keeps its message; anything else is internal and says nothing more. */
export function errorBody(e: unknown): ErrorBody {
  if (e instanceof VitrineError && (WIRE_ERROR_CODES as readonly string[]).includes(e.code)) {
    const code = e.code as WireErrorCode;
    return e.field !== undefined ? { code, message: e.message, field: e.field } : { code, message: e.message };
  }
  return { code: 'internal', message: ERRORS.internal.summary };
}

const REASONS: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The HTTP status line for a code, as uWS writes it ("400 Bad Request"). */
export function httpStatus(code: ErrorCode | 'ok'): string {
  const status = code === 'ok' ? 200 : ERRORS[code].status;
  return `${status} ${REASONS[status] ?? ''}`.trimEnd();
}
