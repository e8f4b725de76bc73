import { pack, unpack } from 'msgpackr';
import WebSocket from 'ws';

import type { RequestId } from '../../src/protocol/calls.js';
import type { ErrorBody } from '../../src/protocol/errors.js';

/** A reply as the tests read it: the protocol's reply with both sides optional, so assertions need no narrowing. */
export type Reply = {
  id: RequestId | null;
  result?: unknown;
  error?: ErrorBody;
  bundle?: string;
  serverMs?: number;
  degraded?: string;
};

/** A real WebSocket client that matches replies to requests by id (replies without an id queue up). */
export class TestClient {
  private readonly waiting = new Map<string | number, (r: Reply) => void>();
  private readonly anonymous: Reply[] = [];
  private anonymousWaiter: ((r: Reply) => void) | undefined;
  private next = 1;
  closed = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const reply = (isBinary ? unpack(data) : JSON.parse(data.toString('utf8'))) as Reply;
      const w = reply.id !== null ? this.waiting.get(reply.id) : undefined;
      if (w && reply.id !== null) {
        this.waiting.delete(reply.id);
        w(reply);
      } else if (this.anonymousWaiter) {
        const aw = this.anonymousWaiter;
        this.anonymousWaiter = undefined;
        aw(reply);
      } else this.anonymous.push(reply);
    });
    // A connection that goes away answers what was in flight (a killed server must not hang a test).
    ws.on('close', () => {
      this.closed = true;
      for (const [id, w] of this.waiting)
        w({ id, error: { code: 'internal', message: 'connection closed before the reply' } });
      this.waiting.clear();
    });
  }

  static connect(url: string, headers?: Record<string, string>): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.once('open', () => resolve(new TestClient(ws)));
      ws.once('error', reject);
    });
  }

  request(body: Record<string, unknown>, mode: 'msgpack' | 'json' = 'msgpack'): Promise<Reply> {
    const id = body.id !== undefined ? (body.id as string | number) : `r${this.next++}`;
    const msg = { ...body, id };
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      if (mode === 'msgpack') this.ws.send(pack(msg), { binary: true });
      else this.ws.send(JSON.stringify(msg), { binary: false });
    });
  }

  /** Sends raw bytes or text and waits for the next reply that carries no id we are waiting for. */
  raw(data: Buffer | string, binary: boolean): Promise<Reply> {
    const p = new Promise<Reply>((resolve) => {
      const queued = this.anonymous.shift();
      if (queued) resolve(queued);
      else this.anonymousWaiter = resolve;
    });
    this.ws.send(data, { binary });
    return p;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

export async function httpCall(
  port: number,
  call: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; reply: Reply }> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/${call}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: res.status, reply: (await res.json()) as Reply };
}
