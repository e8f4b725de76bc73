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
}

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

export interface WsDeps {
  config: ServerConfig;
  metrics: ServerMetrics;
  dispatcher: Dispatcher;
  draining: () => boolean;
}

/** The WebSocket endpoint: one connection carries many requests (msgpack or JSON frames), matched by id. */
export class WebSocketTransport {
  private readonly sockets = new Set<UWS.WebSocket<SocketData>>();

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
        if (this.d.draining()) {
          this.d.metrics.connectionsRefused.inc({ reason: 'draining' });
          res.writeStatus('503 Service Unavailable').end();
          return;
        }
        const key = req.getHeader('sec-websocket-key');
        res.upgrade<SocketData>(
          { inFlight: 0, closed: false },
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
      close: (ws) => {
        ws.getUserData().closed = true;
        this.sockets.delete(ws);
        this.d.metrics.connections.set(this.sockets.size);
      },
    });
  }

  private onMessage(ws: UWS.WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean): void {
    const t0 = performance.now();
    const { config, dispatcher } = this.d;
    const ud = ws.getUserData();
    const transport: Transport = isBinary ? 'ws-msgpack' : 'ws-json';
    const send = (r: Reply): void => {
      if (ud.closed) return;
      const bytes = encodeReply(dispatcher.stamped(r, t0), isBinary);
      ws.cork(() => ws.send(bytes, isBinary));
    };
    if (message.byteLength > config.maxFrameBytes) {
      return send(
        dispatcher.refused(
          'unknown',
          transport,
          null,
          'frame_too_large',
          `the frame has ${message.byteLength} bytes; the limit is ${config.maxFrameBytes}`,
        ),
      );
    }
    let raw: unknown;
    try {
      raw = decodeFrame(message, isBinary);
    } catch {
      return send(
        dispatcher.refused(
          'unknown',
          transport,
          null,
          'bad_frame',
          isBinary ? 'binary frames must be msgpack' : 'text frames must be JSON',
        ),
      );
    }
    if (ud.inFlight >= config.maxInFlightPerConnection) {
      return send(
        dispatcher.refused(
          callLabelOf(raw),
          transport,
          idOf(raw),
          'too_many_in_flight',
          `at most ${config.maxInFlightPerConnection} requests may be in flight on one connection`,
        ),
      );
    }
    const unread = ws.getBufferedAmount();
    if (unread > MAX_UNREAD_REPLY_BYTES) {
      const message = `${unread} bytes of replies on this connection are not read yet; read them before sending more requests`;
      return send(dispatcher.refused(callLabelOf(raw), transport, idOf(raw), 'too_many_in_flight', message));
    }
    ud.inFlight++;
    void dispatcher.handle(raw, transport).then((reply) => {
      ud.inFlight--;
      send(reply);
    });
  }

  /** Closes every connection (at the end of a drain). */
  closeAll(): void {
    for (const ws of [...this.sockets]) ws.end(1001, 'server shutting down');
  }
}
