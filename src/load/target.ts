import { CallError } from '../client/errors.js';
import { VitrineHttpClient } from '../client/http.js';
import { VitrineClient } from '../client/ws.js';
import type { CallName } from '../protocol/calls.js';
import { VitrineError } from '../protocol/errors.js';

/** What a request came back with: its error code if any, the server's time, the result. */
export interface Outcome {
  error?: string;
  serverMs?: number;
  result?: unknown;
}

/** A deployment under load, through the typed client: WebSocket connections or HTTP. */
export interface Target {
  readonly connections: number;
  send(call: CallName, body: Record<string, unknown>): Promise<Outcome>;
  close(): Promise<void>;
}

export interface TargetOptions {
  url: string;
  connections: number;
  codec: 'msgpack' | 'json';
  timeoutMs: number;
  token?: string;
}

/** A deployment that cannot be reached is the run's answer, not a fault of the load tester. */
async function connect(url: string, options: Parameters<typeof VitrineClient.connect>[1]): Promise<VitrineClient> {
  try {
    return await VitrineClient.connect(url, options);
  } catch (e) {
    throw e instanceof CallError ? new VitrineError('unavailable', `--url: ${e.message}`) : e;
  }
}

const outcome = (e: unknown): Outcome => ({ error: e instanceof CallError ? e.code : 'client_error' });

/** ws://... opens `connections` WebSocket clients used in turn; http://... sends each call as a POST. */
export async function openTarget(o: TargetOptions): Promise<Target> {
  if (/^https?:\/\//.test(o.url)) {
    const client = new VitrineHttpClient(o.url, { token: o.token, timeoutMs: o.timeoutMs });
    return {
      connections: o.connections,
      send: (call, body) =>
        client.call(call, body as never).then((a) => ({ serverMs: a.serverMs, result: a.result }), outcome),
      close: async () => undefined,
    };
  }
  const clients = await Promise.all(
    Array.from({ length: o.connections }, () =>
      connect(o.url, {
        codec: o.codec,
        timeoutMs: o.timeoutMs,
        token: o.token,
        // A load test measures what the server does with what it is sent: no client-side cap.
        maxInFlight: 1_000_000,
        reconnect: true,
      }),
    ),
  );
  let turn = 0;
  return {
    connections: o.connections,
    send: (call, body) => {
      const client = clients[turn++ % clients.length];
      return client.call(call, body as never).then((a) => ({ serverMs: a.serverMs, result: a.result }), outcome);
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}
