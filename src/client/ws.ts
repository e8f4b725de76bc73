import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import type { CallName } from '../protocol/calls.js';
import type { ErrorBody } from '../protocol/errors.js';
import type { ResultOf } from '../protocol/replies.js';
import { CallError } from './errors.js';
import type { Requests } from './requests.js';

export interface ClientOptions {
  /** Binary msgpack frames (the default: smaller and faster) or JSON text frames. */
  codec?: 'msgpack' | 'json';
  /** How long a call waits for its reply, ms (default 5,000). */
  timeoutMs?: number;
  /** The server's client token (`--client-token`), sent as a bearer header. */
  token?: string;
  /** Reconnect after the connection drops (default true), backing off from 100 ms up to this. */
  maxBackoffMs?: number;
  reconnect?: boolean;
  /** Calls outstanding at once; past it a call fails at once (default 256, the server's own bound). */
  maxInFlight?: number;
}

/** A successful reply: the call's typed result, the bundle that answered, and the server's time. */
export interface Answer<C extends CallName> {
  result: ResultOf<C>;
  bundle: string;
  serverMs: number;
  /** Present when the server answered without all it should have used (the state store was away). */
  degraded?: string;
}

interface Pending {
  resolve: (a: Answer<CallName>) => void;
  reject: (e: CallError) => void;
  timer: NodeJS.Timeout;
}

interface WireReply {
  id: number | string | null;
  result?: unknown;
  error?: ErrorBody;
  bundle?: string;
  serverMs?: number;
  degraded?: string;
}

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/**
 * A shop back end's connection to Vitrine over WebSocket: requests carry ids, many are in flight at
 * once, each has a timeout, and a dropped connection is re-established with back-off (what was in
 * flight fails with `connection_closed`; calls made meanwhile wait for the new connection, within
 * their timeout).
 */
export class VitrineClient {
  private ws: WebSocket | undefined;
  private opening: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private backoff = 100;
  private readonly o: Required<Omit<ClientOptions, 'token'>> & { token?: string };

  private constructor(
    readonly url: string,
    options: ClientOptions,
  ) {
    this.o = {
      codec: 'msgpack',
      timeoutMs: 5000,
      maxBackoffMs: 5000,
      reconnect: true,
      maxInFlight: 256,
      ...options,
    };
  }

  /** Opens a connection (failing if the first attempt does). */
  static async connect(url: string, options: ClientOptions = {}): Promise<VitrineClient> {
    const c = new VitrineClient(url, options);
    await c.open();
    return c;
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  private open(): Promise<void> {
    this.opening ??= new Promise<void>((resolve, reject) => {
      const headers = this.o.token ? { authorization: `Bearer ${this.o.token}` } : undefined;
      const ws = new WebSocket(this.url, { headers, perMessageDeflate: false });
      ws.once('open', () => {
        this.ws = ws;
        this.backoff = 100;
        resolve();
      });
      // Every error is handled (an unhandled 'error' would end the process); before the connection
      // opens it fails the attempt, after it the 'close' that follows fails what was in flight.
      ws.on('error', (e) =>
        reject(new CallError({ code: 'not_connected', message: `cannot connect to ${this.url}: ${e.message}` })),
      );
      ws.on('message', (data: Buffer, binary: boolean) => this.onMessage(data, binary));
      ws.on('close', () => this.onClose(ws));
    }).finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private onMessage(data: Buffer, binary: boolean): void {
    let reply: WireReply;
    try {
      reply = (binary ? unpackr.unpack(data) : JSON.parse(data.toString('utf8'))) as WireReply;
    } catch {
      return;
    }
    if (typeof reply.id !== 'number') return;
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    clearTimeout(p.timer);
    if (reply.error) p.reject(CallError.fromReply(reply.error));
    else
      p.resolve({
        result: reply.result as ResultOf<CallName>,
        bundle: reply.bundle ?? '',
        serverMs: reply.serverMs ?? 0,
        ...(reply.degraded !== undefined && { degraded: reply.degraded }),
      });
  }

  private onClose(ws: WebSocket): void {
    if (this.ws === ws) this.ws = undefined;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(
        CallError.fromReply({ code: 'connection_closed', message: 'the connection closed before the reply came' }),
      );
      this.pending.delete(id);
    }
    if (!this.closed && this.o.reconnect) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.o.maxBackoffMs);
    setTimeout(() => {
      if (this.closed || this.connected) return;
      this.open().catch(() => this.scheduleReconnect());
    }, wait).unref();
  }

  /** Waits (within `ms`) for a connection, for calls made while it is down. */
  private async ready(ms: number): Promise<WebSocket> {
    const deadline = Date.now() + ms;
    while (!this.connected) {
      if (this.closed) throw new CallError({ code: 'not_connected', message: 'the client is closed' });
      if (Date.now() >= deadline)
        throw new CallError({ code: 'not_connected', message: `no connection to ${this.url} within ${ms} ms` });
      await (this.opening ?? new Promise((r) => setTimeout(r, 20))).catch(() => undefined);
    }
    return this.ws!;
  }

  /** One call with its reply's details; a coded error rejects with a CallError. */
  async call<C extends CallName>(call: C, body: Requests[C], options: { timeoutMs?: number } = {}): Promise<Answer<C>> {
    const timeoutMs = options.timeoutMs ?? this.o.timeoutMs;
    if (this.pending.size >= this.o.maxInFlight)
      throw new CallError({ code: 'too_many_in_flight', message: `${this.pending.size} calls already in flight` });
    const started = Date.now();
    const ws = await this.ready(timeoutMs);
    const id = this.nextId++;
    const msg = { ...body, id, call };
    return new Promise<Answer<C>>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(id);
          reject(
            CallError.fromReply({ code: 'client_timeout', message: `no reply to ${call} within ${timeoutMs} ms` }),
          );
        },
        Math.max(1, timeoutMs - (Date.now() - started)),
      );
      this.pending.set(id, { resolve: resolve as Pending['resolve'], reject, timer });
      ws.send(this.o.codec === 'msgpack' ? packr.pack(msg) : JSON.stringify(msg), {
        binary: this.o.codec === 'msgpack',
      });
    });
  }

  recommend(body: Requests['recommend']): Promise<ResultOf<'recommend'>> {
    return this.call('recommend', body).then((a) => a.result);
  }

  similar(body: Requests['similar']): Promise<ResultOf<'similar'>> {
    return this.call('similar', body).then((a) => a.result);
  }

  boughtTogether(body: Requests['boughtTogether']): Promise<ResultOf<'boughtTogether'>> {
    return this.call('boughtTogether', body).then((a) => a.result);
  }

  score(body: Requests['score']): Promise<ResultOf<'score'>> {
    return this.call('score', body).then((a) => a.result);
  }

  profile(body: Requests['profile']): Promise<ResultOf<'profile'>> {
    return this.call('profile', body).then((a) => a.result);
  }

  event(body: Requests['event']): Promise<ResultOf<'event'>> {
    return this.call('event', body).then((a) => a.result);
  }

  promotion(body: Requests['promotion']): Promise<ResultOf<'promotion'>> {
    return this.call('promotion', body).then((a) => a.result);
  }

  /** Closes the connection; calls in flight fail with `connection_closed`. */
  async close(): Promise<void> {
    this.closed = true;
    const ws = this.ws;
    if (!ws) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
    });
  }
}
