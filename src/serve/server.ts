import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { C1, Packr, Unpackr } from 'msgpackr';
import type { Manifest } from '../bundle/manifest.js';
import { bundleVersions, resolveBundleVersion } from '../bundle/read.js';
import { loadItems } from '../data/loaders/generic.js';
import { DatasetBuilder } from '../data/dataset.js';
import type { Item } from '../data/types.js';
import type { ServerConfig } from './config.js';
import type { Task } from './handlers.js';
import { createLogger, Pseudonymiser, type Logger } from './log.js';
import { ServerMetrics } from './metrics.js';
import { EventOverlay } from './overlay.js';
import { ModelPool, QueueFullError } from './pool.js';
import { CALLS, errorBody, parseRequest, RequestError, type ErrorBody, type ErrorCode, type RequestId } from './protocol.js';
import { loadUws, type UWS } from './uws.js';
import { UserError } from '../util/errors.js';

const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

export type Transport = 'ws-msgpack' | 'ws-json' | 'http';

/** Every reply names the bundle version (once one is loaded) and the server's own time. */
export type Reply = { id: RequestId | null; result: unknown; bundle: string; serverMs: number } | { id: RequestId | null; error: ErrorBody; bundle?: string; serverMs?: number };

interface HttpExchange {
  res: UWS.HttpResponse;
  /** Set when the client disconnected or a response was already written. */
  aborted: boolean;
  /** When the request arrived (performance.now()). */
  t0: number;
}

interface SocketData {
  inFlight: number;
  closed: boolean;
}

// Plain msgpack maps (no msgpackr record extension), so any msgpack client can talk to us; keys
// whose value is undefined are left out, as JSON.stringify does, so both encodings carry the same result.
/**
 * Replies a client has not read yet count against its connection: past this many buffered bytes new
 * requests are refused (`too_many_in_flight`), so a client that writes faster than it reads slows
 * itself down instead of filling the server's memory.
 */
const MAX_UNREAD_REPLY_BYTES = 4 << 20;
/**
 * Where uWS stops buffering. Only replies to requests admitted below MAX_UNREAD_REPLY_BYTES can get
 * here; the connection is then closed (its client sees every pending request fail) rather than a
 * reply silently dropped on a connection that stays open.
 */
const MAX_BACKPRESSURE_BYTES = 64 << 20;

const packr = new Packr({ useRecords: false, skipValues: [undefined] } as ConstructorParameters<typeof Packr>[0]);
// Integers msgpack encodes in 64 bits (Python's msgpack does so from 2^32) arrive as numbers when
// exactly representable, so such an id is echoed and such a k accepted. msgpackr supports 'auto';
// its typings list only the other modes, hence the cast.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' } as unknown as ConstructorParameters<typeof Unpackr>[0]);

const HTTP_STATUS: Record<ErrorCode, string> = {
  bad_frame: '400 Bad Request',
  bad_request: '400 Bad Request',
  invalid_field: '400 Bad Request',
  unknown_call: '404 Not Found',
  frame_too_large: '413 Payload Too Large',
  too_many_in_flight: '429 Too Many Requests',
  overloaded: '503 Service Unavailable',
  unauthorized: '401 Unauthorized',
  not_ready: '503 Service Unavailable',
  shutting_down: '503 Service Unavailable',
  internal: '500 Internal Server Error',
};

function idOf(raw: unknown): RequestId | null {
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const id = (raw as { id?: unknown }).id;
    if ((typeof id === 'string' && id.length <= 128) || (typeof id === 'number' && Number.isFinite(id))) return id;
  }
  return null;
}

/** The metrics label of a request refused before validation: its call when it names a known one. */
function callLabelOf(raw: unknown): string {
  const call = raw !== null && typeof raw === 'object' ? (raw as { call?: unknown }).call : undefined;
  return typeof call === 'string' && (CALLS as readonly string[]).includes(call) ? call : 'unknown';
}

const fail = (id: RequestId | null, code: ErrorCode, message: string, field?: string): Reply => ({ id, error: field !== undefined ? { code, message, field } : { code, message } });

/**
 * The Vitrine server: uWebSockets.js on the main thread for I/O and validation, a piscina pool of
 * workers for retrieval and ranking. One `handle` path serves WebSocket (msgpack or JSON frames) and
 * the HTTP JSON mirror, so every transport gives the same answer.
 */
export class VitrineServer {
  // The event log's figures are read when /metrics is collected; the overlay exists by then.
  readonly metrics = new ServerMetrics(() => this.overlay);
  readonly log: Logger;
  private readonly uws = loadUws();
  private app: UWS.TemplatedApp | undefined;
  private listenSocket: UWS.us_listen_socket | undefined;
  private pool: ModelPool | undefined;
  private readonly sockets = new Set<UWS.WebSocket<SocketData>>();
  private readonly pseudo: Pseudonymiser;
  private readonly overlay: EventOverlay;
  private catalog: Item[] | undefined;
  private inFlight = 0;
  private draining = false;
  private reloading: Promise<{ from: string; to: string }> | undefined;
  port = 0;

  constructor(
    readonly config: ServerConfig,
    log?: Logger,
  ) {
    this.log = log ?? createLogger(config.logLevel);
    this.pseudo = new Pseudonymiser(config.pseudonymKey);
    this.overlay = new EventOverlay({ maxPerUser: 200, maxUsers: config.maxStreamedUsers, maxBytes: config.maxStreamedMemoryMiB * (1 << 20), logPath: config.eventLog, sync: config.eventLogSync });
  }

  get version(): string | undefined {
    return this.pool?.version;
  }

  async start(): Promise<number> {
    const c = this.config;
    if (c.catalog) this.catalog = await readCatalog(c.catalog);
    const dir = resolveBundleVersion(c.bundle);
    this.pool = await ModelPool.start(dir, this.poolOptions());
    this.metrics.setBundle(this.pool.version);
    if (c.eventLog) {
      const replay = await this.overlay.open(this.pool.manifest.data.referenceTime);
      this.log.info({ eventLog: c.eventLog, ...replay, users: this.overlay.users }, 'replayed streamed events from the event log and kept only what is held');
      if (replay.unreadable > 0) {
        const where = replay.unreadableSavedTo ? `moved to ${replay.unreadableSavedTo}` : 'left in the log';
        this.log.warn({ eventLog: c.eventLog, unreadable: replay.unreadable, savedTo: replay.unreadableSavedTo }, `event log lines that are not a valid event were not replayed (a torn last line after a crash, or a damaged log): ${where}`);
      }
      if (replay.rewriteError) this.log.warn({ eventLog: c.eventLog, err: replay.rewriteError }, 'the event log could not be rewritten (appending to it as it is; the next reload or start tries again)');
      this.refreshOverlayGauges();
    }
    this.log.info({ bundle: dir, version: this.pool.version, workers: this.pool.threads, provider: this.pool.provider, newCatalogItems: this.catalog?.length ?? 0 }, 'bundle loaded');

    const app = this.uws.App();
    this.app = app;
    this.routes(app);
    this.port = await new Promise<number>((resolve, reject) => {
      // Exclusive: uWS otherwise sets SO_REUSEPORT, and a second server started on a busy port
      // would quietly share its traffic (an old version still running beside the new one).
      // The typings lack the (host, port, options, cb) form the native binding takes.
      const listen = app.listen.bind(app) as unknown as (host: string, port: number, options: number, cb: (socket: UWS.us_listen_socket | false) => void) => void;
      listen(c.host, c.port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
        if (!socket) return reject(new UserError(`cannot listen on ${c.host}:${c.port} (the port is in use, or the address is not this machine's; see --port and --host)`));
        this.listenSocket = socket;
        resolve(this.uws.us_socket_local_port(socket as unknown as UWS.us_socket));
      });
    });
    this.log.info({ host: c.host, port: this.port }, 'listening');
    return this.port;
  }

  private poolOptions() {
    const c = this.config;
    return { workers: c.workers, maxQueue: c.maxQueue, concurrentTasksPerWorker: c.concurrentTasksPerWorker, maxBatch: c.maxBatch, onBatch: (n: number) => this.metrics.batchSize.observe(n), onWorkerError: (err: unknown) => this.log.error({ err }, 'a worker failed'), provider: c.provider, efSearch: c.efSearch, catalog: this.catalog };
  }

  private routes(app: UWS.TemplatedApp): void {
    const c = this.config;
    app.ws<SocketData>('/ws', {
      // uWS closes a connection whose frame exceeds maxPayloadLength; we accept up to 16x the
      // configured limit and answer oversized frames with a coded error instead, keeping the connection.
      maxPayloadLength: Math.max(c.maxFrameBytes * 16, 1 << 20),
      maxBackpressure: MAX_BACKPRESSURE_BYTES,
      closeOnBackpressureLimit: 1,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        if (c.clientToken && !tokenMatches(req.getHeader('authorization'), req.getQuery('token'), c.clientToken)) {
          res.writeStatus('401 Unauthorized').writeHeader('content-type', 'application/json').end(JSON.stringify(fail(null, 'unauthorized', 'a client token is required (Authorization: Bearer <token> or ?token=)')));
          return;
        }
        if (this.draining) {
          res.writeStatus('503 Service Unavailable').end();
          return;
        }
        res.upgrade<SocketData>({ inFlight: 0, closed: false }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
      },
      open: (ws) => {
        this.sockets.add(ws);
        this.metrics.connections.set(this.sockets.size);
      },
      message: (ws, message, isBinary) => this.onMessage(ws, message, isBinary),
      close: (ws) => {
        ws.getUserData().closed = true;
        this.sockets.delete(ws);
        this.metrics.connections.set(this.sockets.size);
      },
    });

    // Probes: GET answers with a JSON body, HEAD (what some load balancers send) with the same status.
    const probe = (path: string, answer: () => { status: string; body: object }): void => {
      const respond = (res: UWS.HttpResponse, head: boolean): void => {
        const { status, body } = answer();
        res.writeStatus(status).writeHeader('content-type', 'application/json');
        // No length: this uWS build's endWithoutBody(length) leaves the response open.
        if (head) res.endWithoutBody();
        else res.end(JSON.stringify(body));
      };
      app.get(path, (res) => respond(res, false));
      app.head(path, (res) => respond(res, true));
    };
    probe('/healthz', () => ({ status: '200 OK', body: { status: 'ok' } }));
    probe('/readyz', () => {
      const ready = this.pool !== undefined && !this.draining;
      return { status: ready ? '200 OK' : '503 Service Unavailable', body: { ready, bundle: this.pool?.version ?? null, draining: this.draining } };
    });
    app.get('/metrics', (res) => {
      let aborted = false;
      res.onAborted(() => (aborted = true));
      this.refreshGauges();
      void this.metrics.registry.metrics().then((text) => {
        if (!aborted) res.cork(() => res.writeHeader('content-type', this.metrics.registry.contentType).end(text));
      });
    });
    app.post('/v1/:call', (res, req) => {
      const call = req.getParameter(0) ?? '';
      const label = callLabelOf({ call });
      const auth = req.getHeader('authorization');
      this.readBody(res, label, (ex, body) => {
        if (c.clientToken && !tokenMatches(auth, '', c.clientToken)) return this.writeHttp(ex, this.refused(label, 'http', null, 'unauthorized', 'a client token is required (Authorization: Bearer <token>)'));
        let raw: unknown;
        try {
          raw = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
        } catch {
          return this.writeHttp(ex, this.refused(label, 'http', null, 'bad_frame', 'the body is not valid JSON'));
        }
        void this.handle(raw, 'http', call).then((reply) => this.writeHttp(ex, reply));
      });
    });
    app.post('/admin/reload', (res, req) => {
      const auth = req.getHeader('authorization');
      this.readBody(res, undefined, (ex, body) => {
        if (!c.adminToken || !tokenMatches(auth, '', c.adminToken)) return this.writeHttp(ex, fail(null, 'unauthorized', c.adminToken ? 'admin token required (Authorization: Bearer <token>)' : 'admin calls are disabled: start the server with an admin token'));
        let o: unknown;
        try {
          o = body.length > 0 ? JSON.parse(body.toString('utf8')) : {};
        } catch {
          return this.writeHttp(ex, fail(null, 'bad_frame', 'the body is not valid JSON'));
        }
        if (o === null || typeof o !== 'object' || Array.isArray(o)) return this.writeHttp(ex, fail(null, 'bad_request', 'the body must be a JSON object: {} (the newest version) or {"version": "<name>"}'));
        // A misspelt key would otherwise reload the newest version instead of the one meant.
        const unknown = Object.keys(o).find((k) => k !== 'version');
        if (unknown !== undefined) return this.writeHttp(ex, fail(null, 'invalid_field', `${unknown.slice(0, 64)}: is not a field of a reload (version)`, unknown.slice(0, 64)));
        const v = (o as { version?: unknown }).version;
        if (v !== undefined && v !== null && typeof v !== 'string') return this.writeHttp(ex, fail(null, 'invalid_field', 'version: must be a string naming a version directory', 'version'));
        const version = typeof v === 'string' ? v : undefined;
        // A version that is not there is the caller's mistake (400), not a failed reload (500).
        const missing = version === undefined ? undefined : this.missingVersion(version);
        if (missing) return this.writeHttp(ex, fail(null, 'invalid_field', `version: ${missing}`, 'version'));
        this.reload(version).then(
          (r) => this.writeHttp(ex, { id: null, result: r, bundle: this.version ?? '', serverMs: elapsed(ex.t0) }),
          (e: unknown) => this.writeHttp(ex, e instanceof RequestError ? fail(null, e.code, e.message) : fail(null, 'internal', `reload failed: ${(e as Error).message}`)),
        );
      });
    });
    app.any('/*', (res, req) => {
      const t0 = performance.now();
      const route = `${req.getMethod().toUpperCase()} ${req.getUrl()}`.slice(0, 128);
      const reply = this.stamped(fail(null, 'unknown_call', `no such route: ${route} (calls are POST /v1/<call> or a WebSocket on /ws; also GET /healthz, /readyz, /metrics and POST /admin/reload)`), t0);
      res.writeStatus('404 Not Found').writeHeader('content-type', 'application/json').end(JSON.stringify(reply));
    });
  }

  private refreshOverlayGauges(): void {
    this.metrics.overlayUsers.set(this.overlay.users);
    this.metrics.overlayEvicted.set(this.overlay.evicted);
    this.metrics.overlayBytes.set(this.overlay.heldBytes);
  }

  /** Why `version` cannot be reloaded, or undefined when it can be tried. */
  private missingVersion(version: string): string | undefined {
    const dir = resolve(this.config.bundle);
    if (existsSync(join(dir, 'manifest.json'))) return `the server was started on one version directory (${dir}); start it on the bundle directory to switch versions`;
    let versions: string[];
    try {
      versions = bundleVersions(dir);
    } catch (e) {
      // Runs in a uWS callback, where a throw would end the process.
      return `the bundle directory ${dir} cannot be listed (${(e as Error).message})`;
    }
    if (!versions.includes(version)) return `no version "${version}" in ${dir} (versions: ${versions.join(', ') || 'none'})`;
    return undefined;
  }

  /** Adds the bundle version (the serving one) and the server time to an error reply that lacks them. */
  private stamped(reply: Reply, t0: number): Reply {
    if (!('error' in reply) || reply.serverMs !== undefined) return reply;
    const serverMs = elapsed(t0);
    return this.pool ? { ...reply, bundle: this.pool.version, serverMs } : { ...reply, serverMs };
  }

  private onMessage(ws: UWS.WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean): void {
    const t0 = performance.now();
    const ud = ws.getUserData();
    const transport: Transport = isBinary ? 'ws-msgpack' : 'ws-json';
    const send = (r: Reply): void => {
      if (ud.closed) return;
      const reply = this.stamped(r, t0);
      const bytes = isBinary ? packr.pack(reply) : JSON.stringify(reply);
      ws.cork(() => ws.send(bytes, isBinary));
    };
    if (message.byteLength > this.config.maxFrameBytes) {
      return send(this.refused('unknown', transport, null, 'frame_too_large', `the frame has ${message.byteLength} bytes; the limit is ${this.config.maxFrameBytes}`));
    }
    let raw: unknown;
    try {
      // Copy out of uWS's buffer, which is reused once this callback returns.
      const bytes = Buffer.from(new Uint8Array(message));
      raw = isBinary ? unpackr.unpack(bytes) : JSON.parse(bytes.toString('utf8'));
      // 0xC1 is the byte msgpack never uses; msgpackr decodes it to a marker rather than refusing it.
      if (raw === C1) throw new Error('0xC1');
    } catch {
      return send(this.refused('unknown', transport, null, 'bad_frame', isBinary ? 'binary frames must be msgpack' : 'text frames must be JSON'));
    }
    if (ud.inFlight >= this.config.maxInFlightPerConnection) {
      return send(this.refused(callLabelOf(raw), transport, idOf(raw), 'too_many_in_flight', `at most ${this.config.maxInFlightPerConnection} requests may be in flight on one connection`));
    }
    const unread = ws.getBufferedAmount();
    if (unread > MAX_UNREAD_REPLY_BYTES) {
      return send(this.refused(callLabelOf(raw), transport, idOf(raw), 'too_many_in_flight', `${unread} bytes of replies on this connection are not read yet; read them before sending more requests`));
    }
    ud.inFlight++;
    void this.handle(raw, transport).then((reply) => {
      ud.inFlight--;
      send(reply);
    });
  }

  /** Validates and answers one request; never throws (errors become coded replies). */
  async handle(raw: unknown, transport: Transport, callFromPath?: string): Promise<Reply> {
    const t0 = performance.now();
    const id = idOf(raw);
    let callName = 'unknown';
    this.inFlight++;
    this.metrics.inFlight.set(this.inFlight);
    try {
      if (this.draining) throw new RequestError('shutting_down', 'the server is shutting down; reconnect to another replica');
      const req = parseRequest(raw, this.config.limits, callFromPath);
      callName = req.call.call;
      const now = this.config.clock === 'bundle' && this.pool ? this.pool.manifest.data.referenceTime : Date.now() / 1000;
      let result: unknown;
      let bundle = this.pool?.version ?? '';
      if (req.call.call === 'event') {
        const e = req.call;
        // The log keeps only events after the bundle's data end (what it has not learned from); an
        // older one would be answered `accepted` and then vanish at the next start.
        const dataEnd = this.pool?.manifest.data.referenceTime;
        if (e.ts !== undefined && dataEnd !== undefined && e.ts < dataEnd) throw new RequestError('invalid_field', `ts: ${e.ts} is before the serving bundle's data end (${new Date(dataEnd * 1000).toISOString()}); events the bundle covers are not streamed`, 'ts');
        const historyLength = this.overlay.add(e.user, { item: e.item, type: e.type, ts: e.ts ?? now, price: e.price, quantity: e.quantity });
        this.refreshOverlayGauges();
        this.log.debug({ user: this.pseudo.user(e.user), type: e.type }, 'event');
        // Acknowledged once on disk: a shop that got `accepted` need not send it again after a crash.
        await this.overlay.durable();
        result = { accepted: true, streamedEvents: historyLength };
      } else {
        const pool = this.pool;
        if (!pool) throw new RequestError('not_ready', 'no bundle is loaded yet');
        const user = 'user' in req.call ? req.call.user : undefined;
        const task: Task = { call: req.call, overlay: this.overlay.get(user), now };
        try {
          const reply = await pool.run(task);
          bundle = reply.version;
          const o = reply.outcome;
          if ('error' in o) {
            if (o.internal) this.log.error({ err: o.internal, call: callName }, 'request failed in a worker');
            this.metrics.requests.inc({ call: callName, transport, outcome: o.error.code });
            return { id: req.id, error: o.error, bundle, serverMs: elapsed(t0) };
          }
          result = o.result;
        } catch (e) {
          if (e instanceof QueueFullError) throw new RequestError('overloaded', 'the worker queue is full; retry with backoff');
          throw e;
        }
      }
      const serverMs = elapsed(t0);
      this.metrics.requests.inc({ call: callName, transport, outcome: 'ok' });
      this.metrics.latency.observe({ call: callName }, serverMs / 1000);
      return { id: req.id, result, bundle, serverMs };
    } catch (e) {
      const body = errorBody(e);
      if (body.code === 'internal') this.log.error({ err: e, call: callName }, 'request failed');
      this.metrics.requests.inc({ call: callName, transport, outcome: body.code });
      return this.stamped({ id, error: body }, t0);
    } finally {
      this.inFlight--;
      this.metrics.inFlight.set(this.inFlight);
    }
  }

  /** Collects a request body (bounded by maxFrameBytes); the exchange remembers if the client went away. */
  /** `call`: the label a refused body of a call is counted under; admin bodies are not calls. */
  private readBody(res: UWS.HttpResponse, call: string | undefined, done: (ex: HttpExchange, body: Buffer) => void): void {
    const ex: HttpExchange = { res, aborted: false, t0: performance.now() };
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
        this.writeHttp(ex, call === undefined ? fail(null, 'frame_too_large', message) : this.refused(call, 'http', null, 'frame_too_large', message), true);
        return;
      }
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) done(ex, Buffer.concat(chunks));
    });
  }

  /** A request refused before it reached `handle` (which counts its own): counted, then answered. */
  private refused(call: string, transport: Transport, id: RequestId | null, code: ErrorCode, message: string): Reply {
    this.metrics.requests.inc({ call, transport, outcome: code });
    return fail(id, code, message);
  }

  private writeHttp(ex: HttpExchange, r: Reply, close = false): void {
    if (ex.aborted) return;
    const reply = this.stamped(r, ex.t0);
    const status = 'error' in reply ? HTTP_STATUS[reply.error.code] : '200 OK';
    ex.res.cork(() => {
      ex.res.writeStatus(status).writeHeader('content-type', 'application/json').end(JSON.stringify(reply), close);
    });
    ex.aborted = true;
  }

  private refreshGauges(): void {
    if (!this.pool) return;
    this.metrics.queueDepth.set(this.pool.queueSize);
    this.metrics.utilization.set(this.pool.utilization);
  }

  /**
   * Hot reload: load the newest (or the named) version into a new pool beside the serving one, swap
   * when every new worker is warm, then let the old pool finish its in-flight tasks. No request is
   * dropped: each is answered by whichever version it was dispatched to.
   */
  async reload(version?: string): Promise<{ from: string; to: string }> {
    if (this.draining) throw new RequestError('shutting_down', 'the server is shutting down; no reload');
    // One at a time, in the order asked: a reload asked for while another runs (another version, or
    // a SIGHUP during an admin call) starts once that one has settled, and gets its own answer.
    const attempt = (this.reloading ?? Promise.resolve()).then(
      () => this.reloadNow(version),
      () => this.reloadNow(version),
    );
    this.reloading = attempt;
    const clear = (): void => {
      if (this.reloading === attempt) this.reloading = undefined;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  private async reloadNow(version: string | undefined): Promise<{ from: string; to: string }> {
    // Queued before a shutdown began: loading a whole bundle only to close it would delay the drain.
    if (this.draining) throw new RequestError('shutting_down', 'the server is shutting down; no reload');
    const from = this.pool?.version ?? '';
    try {
      const dir = version ? resolveBundleVersion(`${this.config.bundle}/${version}`) : resolveBundleVersion(this.config.bundle);
      // Same directory and same files: nothing to do. A version retrained in place (same name, new
      // files) is a new model and is loaded.
      if (this.pool && dir === this.pool.dir && sameFiles(dir, this.pool.manifest)) return { from, to: from };
      const next = await ModelPool.start(dir, this.poolOptions());
      const old = this.pool;
      this.pool = next;
      // Not awaited: the reload is done once the new pool serves; a failed rewrite leaves the old log whole.
      this.overlay.prune(next.manifest.data.referenceTime).then(
        (kept) => {
          this.refreshOverlayGauges();
          this.log.info({ kept }, 'event log rewritten to the events the new bundle has not learned from');
        },
        (err: unknown) => this.log.error({ err }, 'rewriting the event log at reload failed (the next start rewrites it)'),
      );
      this.metrics.setBundle(next.version);
      this.metrics.reloads.inc({ outcome: 'ok' });
      this.log.info({ from, to: next.version, dir }, 'bundle reloaded');
      // Answered once the old version has finished what it was handed and released its workers.
      if (old) await old.close();
      return { from, to: next.version };
    } catch (e) {
      this.metrics.reloads.inc({ outcome: 'failed' });
      this.log.error({ err: e }, 'reload failed; still serving the previous version');
      throw e;
    }
  }

  /**
   * Graceful shutdown: stop accepting, refuse new requests, wait (up to drainSeconds) until every
   * accepted request has been answered, then close connections and workers.
   */
  async shutdown(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.log.info({ inFlight: this.inFlight }, 'draining');
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    const deadline = Date.now() + this.config.drainSeconds * 1000;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    // Let the last replies leave the socket buffers before closing.
    await new Promise((r) => setTimeout(r, 20));
    for (const ws of [...this.sockets]) ws.end(1001, 'server shutting down');
    await this.reloading?.catch(() => undefined);
    await this.pool?.close();
    await this.overlay.close().catch((err: unknown) => this.log.error({ err }, 'closing the event log failed'));
    (this.app as (UWS.TemplatedApp & { close?: () => void }) | undefined)?.close?.();
    this.log.info({ leftInFlight: this.inFlight }, 'stopped');
  }
}

/** Whether the version in `dir` still has the files (by checksum) the serving pool was loaded from. */
function sameFiles(dir: string, serving: Manifest): boolean {
  try {
    const onDisk = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files?: unknown };
    return JSON.stringify(onDisk.files) === JSON.stringify(serving.files);
  } catch {
    // Unreadable now: let the reload try, and fail with the reason.
    return false;
  }
}

/** Milliseconds since t0, to the microsecond. */
function elapsed(t0: number): number {
  return Math.round((performance.now() - t0) * 1000) / 1000;
}

function tokenMatches(header: string, query: string, token: string): boolean {
  return header === `Bearer ${token}` || query === token;
}

async function readCatalog(path: string): Promise<Item[]> {
  const b = new DatasetBuilder();
  await loadItems(path, b);
  return b.build({ format: 'catalog', path, files: [path] }).itemInfo;
}

