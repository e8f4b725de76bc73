import type { Dispatcher } from '../dispatch.js';
import { callLabelOf, fail } from '../dispatch.js';
import type { ServerConfig } from '../config/index.js';
import type { ServerMetrics } from '../metrics.js';
import { tokenMatches } from './auth.js';
import { decodeFrame, encodeReply, idOf, type Transport } from './codec.js';
import type { UWS } from './uws.js';
import type { Reply } from '../../protocol/replies.js';

interface SocketData {
  inFlight: number;
  closed: boolean;
  /** Reply bytes uWS holds for this connection (its client has not read them yet), as last seen. */
  unread: number;
  /** Bytes set aside for the replies of this connection's requests in flight (see `reserve`). */
  reserved: number;
  /** A moving average of this connection's reply sizes: what its next reply is expected to take. */
  replyBytes: number;
  /** Requests refused since one was last admitted. */
  refusedInARow: number;
}

/**
 * Replies a client has not read yet count against its connection: past this many buffered bytes new
 * requests are refused (`too_many_in_flight`), so a client that writes faster than it reads slows
 * itself down instead of filling the server's memory.
 */
const MAX_UNREAD_REPLY_BYTES = 1 << 20;
/**
 * Where uWS stops buffering and closes the connection (its client sees every pending request fail).
 * Replies to requests admitted below MAX_UNREAD_REPLY_BYTES fit under it; what pushes a connection
 * here is a client that keeps sending without reading, collecting refusals it never reads.
 */
const MAX_BACKPRESSURE_BYTES = 8 << 20;
/**
 * Refusals in a row (no request admitted between them) after which a connection is closed with 1013
 * (try again later). A client that keeps sending into refusals without backing off costs the main
 * thread a few microseconds per frame; thousands of frames queued on a few connections would hold
 * up everything else, /healthz included. The client reconnects with back-off, as a client should.
 */
const MAX_REFUSALS_IN_A_ROW = 500;
/** What a connection's first reply is expected to take, before it has sent any. */
const FIRST_REPLY_BYTES = 4096;

export interface WsDeps {
  config: ServerConfig;
  metrics: ServerMetrics;
  dispatcher: Dispatcher;
  draining: () => boolean;
}

/** The WebSocket endpoint: one connection carries many requests (msgpack or JSON frames), matched by id. */
export class WebSocketTransport {
  private readonly sockets = new Set<UWS.WebSocket<SocketData>>();
  /** Unread reply bytes over all connections (the sum of their `unread`). */
  private unread = 0;
  /** Reserved reply bytes over all connections (the sum of their `reserved`). */
  private reserved = 0;

  constructor(private readonly d: WsDeps) {}

  register(app: UWS.TemplatedApp): void {
    const c = this.d.config;
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
          const reply = fail(
            null,
            'unauthorized',
            'a client token is required (Authorization: Bearer <token> or ?token=)',
          );
          this.d.metrics.connectionsRefused.inc({ reason: 'unauthorized' });
          res
            .writeStatus('401 Unauthorized')
            .writeHeader('content-type', 'application/json')
            .end(JSON.stringify(reply));
          return;
        }
        if (this.sockets.size >= c.maxConnections) {
          this.d.metrics.connectionsRefused.inc({ reason: 'max_connections' });
          res
            .writeStatus('503 Service Unavailable')
            .writeHeader('content-type', 'application/json')
            .end(
              JSON.stringify(
                fail(null, 'overloaded', `the server holds its maximum of ${c.maxConnections} connections`),
              ),
            );
          return;
        }
        if (this.d.draining()) {
          this.d.metrics.connectionsRefused.inc({ reason: 'draining' });
          res.writeStatus('503 Service Unavailable').end();
          return;
        }
        const key = req.getHeader('sec-websocket-key');
        res.upgrade<SocketData>(
          { inFlight: 0, closed: false, unread: 0, reserved: 0, replyBytes: FIRST_REPLY_BYTES, refusedInARow: 0 },
          key,
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      },
      open: (ws) => {
        this.sockets.add(ws);
        this.d.metrics.connections.set(this.sockets.size);
      },
      message: (ws, message, isBinary) => this.onMessage(ws, message, isBinary),
      drain: (ws) => this.account(ws),
      close: (ws) => {
        const ud = ws.getUserData();
        ud.closed = true;
        this.unread -= ud.unread;
        ud.unread = 0;
        this.d.metrics.unreadReplyBytes.set(this.unread);
        this.sockets.delete(ws);
        this.d.metrics.connections.set(this.sockets.size);
      },
    });
  }

  private onMessage(ws: UWS.WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean): void {
    const t0 = performance.now();
    const { config, dispatcher } = this.d;
    const ud = ws.getUserData();
    if (ud.closed) return;
    const transport: Transport = isBinary ? 'ws-msgpack' : 'ws-json';
    /** Sends a reply; returns its size in bytes (0 when the connection is gone). */
    const send = (r: Reply): number => {
      if (ud.closed) return 0;
      const bytes = encodeReply(dispatcher.stamped(r, t0), isBinary);
      ws.cork(() => ws.send(bytes, isBinary));
      this.account(ws);
      return typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
    };
    if (message.byteLength > config.maxFrameBytes) {
      send(
        dispatcher.refused(
          'unknown',
          transport,
          null,
          'frame_too_large',
          `the frame has ${message.byteLength} bytes; the limit is ${config.maxFrameBytes}`,
        ),
      );
      return;
    }
    let raw: unknown;
    try {
      raw = decodeFrame(message, isBinary);
    } catch {
      send(
        dispatcher.refused(
          'unknown',
          transport,
          null,
          'bad_frame',
          isBinary ? 'binary frames must be msgpack' : 'text frames must be JSON',
        ),
      );
      return;
    }
    const refusal = this.admission(ws);
    if (refusal) {
      this.d.metrics.shed.inc({ reason: refusal.reason });
      return this.refuse(
        ws,
        send,
        dispatcher.refused(callLabelOf(raw), transport, idOf(raw), 'too_many_in_flight', refusal.message),
      );
    }
    const door = dispatcher.preflight(raw, transport);
    if (door.refused) return this.refuse(ws, send, door.refused);
    ud.refusedInARow = 0;
    ud.inFlight++;
    const reservation = this.reserve(ud, ud.replyBytes);
    void dispatcher.handle(raw, transport, undefined, door.reservation).then((reply) => {
      ud.inFlight--;
      this.reserve(ud, -reservation);
      const size = send(reply);
      // Served replies only: a refusal's few bytes say nothing of what the next admitted request returns.
      if (size > 0) ud.replyBytes += (size - ud.replyBytes) / 8;
    });
  }

  private refuse(ws: UWS.WebSocket<SocketData>, send: (r: Reply) => void, reply: Reply): void {
    if (++ws.getUserData().refusedInARow > MAX_REFUSALS_IN_A_ROW)
      this.close(
        ws,
        'refusals_in_a_row',
        `${MAX_REFUSALS_IN_A_ROW} requests refused in a row; reconnect with back-off`,
      );
    else send(reply);
  }

  /** Closes a connection the server will not answer any more; frames already received from it are dropped. */
  private close(ws: UWS.WebSocket<SocketData>, reason: string, message: string): void {
    this.d.metrics.connectionsClosed.inc({ reason });
    ws.getUserData().closed = true;
    ws.end(1013, message);
  }

  /** Whether a connection may send another request now, judged before any work is done for it. */
  private admission(ws: UWS.WebSocket<SocketData>): { reason: string; message: string } | undefined {
    const { config } = this.d;
    const ud = ws.getUserData();
    if (ud.inFlight >= config.maxInFlightPerConnection)
      return {
        reason: 'connection_in_flight',
        message: `at most ${config.maxInFlightPerConnection} requests may be in flight on one connection`,
      };
    // Replies still being computed count with those already waiting: checked on the bytes waiting
    // alone, requests admitted before a client's buffers filled would overshoot by all their replies.
    if (ud.unread > 0 && ud.unread + ud.reserved + ud.replyBytes > MAX_UNREAD_REPLY_BYTES)
      return {
        reason: 'connection_unread',
        message: `${ud.unread} bytes of replies on this connection are not read yet; read them before sending more requests`,
      };
    // Past the cap only a connection with nothing waiting and nothing in flight is served: a client
    // that reads its replies one at a time goes on; one that does not read cannot add to the total.
    if (ud.unread + ud.reserved > 0 && this.unread + this.reserved + ud.replyBytes > config.maxUnreadReplyMiB * 1048576)
      return {
        reason: 'unread_replies',
        message: `the server holds ${config.maxUnreadReplyMiB} MiB of replies not yet read or still being computed; read this connection's replies first`,
      };
    return undefined;
  }

  /**
   * Sets aside (or, negative, gives back) bytes for a reply in flight; returns what it set aside.
   * A closed connection's reservations are given back as its requests finish, like anyone's.
   */
  private reserve(ud: SocketData, bytes: number): number {
    ud.reserved += bytes;
    this.reserved += bytes;
    return bytes;
  }

  /** Brings the server-wide unread total up to date with what uWS now holds for this connection. */
  private account(ws: UWS.WebSocket<SocketData>): void {
    const ud = ws.getUserData();
    if (ud.closed) return;
    const now = ws.getBufferedAmount();
    if (now === ud.unread) return;
    this.unread += now - ud.unread;
    ud.unread = now;
    this.d.metrics.unreadReplyBytes.set(this.unread);
  }

  /** Closes every connection (at the end of a drain). */
  closeAll(): void {
    for (const ws of [...this.sockets]) ws.end(1001, 'server shutting down');
  }
}
