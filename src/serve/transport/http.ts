import { httpStatus } from '../../protocol/errors.js';
import type { Reply } from '../../protocol/replies.js';
import type { ServerConfig } from '../config/index.js';
import { callLabelOf, type Dispatcher, fail } from '../dispatch.js';
import { tokenMatches } from './auth.js';
import type { UWS } from './uws.js';

/** One HTTP request and its response, answered at most once. */
export interface HttpExchange {
  res: UWS.HttpResponse;
  /** Set when the client disconnected or a response was already written. */
  aborted: boolean;
  /** When the request arrived (performance.now()). */
  t0: number;
  /** The request's Origin when it is one the config allows (the reply then carries CORS headers). */
  corsOrigin?: string;
}

/**
 * Why a request's framing cannot be trusted, or undefined: uWS keeps the first of two Content-Length
 * headers, and a proxy in front may have kept the other, so the two would disagree on where this
 * request ends (request smuggling). Refused instead, and the connection closed.
 */
function framingProblem(req: UWS.HttpRequest): string | undefined {
  let lengths = 0;
  let chunked = false;
  req.forEach((key) => {
    if (key === 'content-length') lengths++;
    if (key === 'transfer-encoding') chunked = true;
  });
  if (lengths > 1) return 'the request has more than one Content-Length header';
  if (lengths > 0 && chunked) return 'the request has both Content-Length and Transfer-Encoding';
  return undefined;
}

/** The request's Origin when `allowed` lets it call the HTTP API from a browser (`*`: any origin). */
export function allowedOrigin(origin: string, allowed: readonly string[] | undefined): string | undefined {
  if (!origin || !allowed || allowed.length === 0) return undefined;
  return allowed.includes('*') || allowed.includes(origin) ? origin : undefined;
}

/**
 * HTTP bodies and replies: bodies are bounded by maxFrameBytes; a reply's status comes from its
 * error code's entry in the catalogue.
 */
export class HttpIo {
  constructor(
    private readonly config: ServerConfig,
    private readonly dispatcher: Dispatcher,
  ) {}

  /**
   * Collects a request body; `call` is the label a refused body of a call is counted under (admin
   * bodies are not calls). Headers are read here, while uWS's request object is valid.
   */
  readBody(
    res: UWS.HttpResponse,
    req: UWS.HttpRequest,
    call: string | undefined,
    done: (ex: HttpExchange, body: Buffer) => void,
  ): void {
    const ex: HttpExchange = {
      res,
      aborted: false,
      t0: performance.now(),
      corsOrigin: call !== undefined ? allowedOrigin(req.getHeader('origin'), this.config.corsOrigins) : undefined,
    };
    const framing = framingProblem(req);
    if (framing !== undefined) {
      res.onAborted(() => (ex.aborted = true));
      const reply =
        call === undefined
          ? fail(null, 'bad_request', framing)
          : this.dispatcher.refused(call, 'http', null, 'bad_request', framing);
      this.write(ex, reply, true);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let rejected = false;
    res.onAborted(() => (ex.aborted = true));
    res.onData((chunk, isLast) => {
      if (rejected) return;
      size += chunk.byteLength;
      if (size > this.config.maxFrameBytes) {
        rejected = true;
        const message = `the body exceeds ${this.config.maxFrameBytes} bytes`;
        const reply =
          call === undefined
            ? fail(null, 'frame_too_large', message)
            : this.dispatcher.refused(call, 'http', null, 'frame_too_large', message);
        this.write(ex, reply, true);
        return;
      }
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) done(ex, Buffer.concat(chunks));
    });
  }

  write(ex: HttpExchange, r: Reply<unknown>, close = false): void {
    if (ex.aborted) return;
    const reply = this.dispatcher.stamped(r, ex.t0);
    const status = 'error' in reply ? httpStatus(reply.error.code) : httpStatus('ok');
    ex.res.cork(() => {
      ex.res.writeStatus(status).writeHeader('content-type', 'application/json');
      if (ex.corsOrigin !== undefined)
        ex.res.writeHeader('access-control-allow-origin', ex.corsOrigin).writeHeader('vary', 'Origin');
      ex.res.end(JSON.stringify(reply), close);
    });
    ex.aborted = true;
  }
}

/** POST /v1/<call>: the JSON mirror of the WebSocket calls. */
export function registerCalls(app: UWS.TemplatedApp, config: ServerConfig, io: HttpIo, dispatcher: Dispatcher): void {
  app.post('/v1/:call', (res, req) => {
    const call = req.getParameter(0) ?? '';
    const label = callLabelOf({ call });
    const auth = req.getHeader('authorization');
    io.readBody(res, req, label, (ex, body) => {
      if (config.clientToken && !tokenMatches(auth, '', config.clientToken)) {
        return io.write(
          ex,
          dispatcher.refused(
            label,
            'http',
            null,
            'unauthorized',
            'a client token is required (Authorization: Bearer <token>)',
          ),
        );
      }
      let raw: unknown;
      try {
        raw = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        return io.write(ex, dispatcher.refused(label, 'http', null, 'bad_frame', 'the body is not valid JSON'));
      }
      const door = dispatcher.preflight(raw, 'http', call);
      if (door.refused) return io.write(ex, door.refused);
      void dispatcher.handle(raw, 'http', call, door.reservation).then((reply) => io.write(ex, reply));
    });
  });
}

/**
 * CORS preflight for the calls: a browser page on an allowed origin may POST JSON with a bearer
 * token. Other origins get no CORS headers, so the browser refuses the call.
 */
export function registerPreflight(app: UWS.TemplatedApp, config: ServerConfig): void {
  app.options('/v1/:call', (res, req) => {
    const origin = allowedOrigin(req.getHeader('origin'), config.corsOrigins);
    res.cork(() => {
      res.writeStatus('204 No Content');
      if (origin !== undefined) {
        res
          .writeHeader('access-control-allow-origin', origin)
          .writeHeader('access-control-allow-methods', 'POST, OPTIONS')
          .writeHeader('access-control-allow-headers', 'authorization, content-type')
          .writeHeader('access-control-max-age', '600')
          .writeHeader('vary', 'Origin');
      }
      res.endWithoutBody();
    });
  });
}

/** Anything else: a coded 404 that lists the routes. */
export function registerFallback(app: UWS.TemplatedApp, dispatcher: Dispatcher): void {
  app.any('/*', (res, req) => {
    const t0 = performance.now();
    const route = `${req.getMethod().toUpperCase()} ${req.getUrl()}`.slice(0, 128);
    const routes =
      'calls are POST /v1/<call> or a WebSocket on /ws; also GET /healthz, /readyz, /metrics, POST /admin/reload, /admin/export, /admin/forget and GET /admin/forgotten';
    const reply = dispatcher.stamped(fail(null, 'unknown_call', `no such route: ${route} (${routes})`), t0);
    res
      .writeStatus(httpStatus('unknown_call'))
      .writeHeader('content-type', 'application/json')
      .end(JSON.stringify(reply));
  });
}
