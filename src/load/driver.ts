import * as hdr from 'hdr-histogram-js';
import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';

export type Codec = 'msgpack' | 'json';

/** One request to send; `id` is filled in by the driver. */
export type RequestFactory = (seq: number) => Record<string, unknown>;

export interface LatencySummary {
  count: number;
  errors: number;
  /** Error codes and how often each came back. */
  errorCodes: Record<string, number>;
  seconds: number;
  throughput: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

interface Conn {
  ws: WebSocket;
  pending: Map<number, { sentAt: number; resolve: (ok: { error?: string }) => void }>;
}

async function connect(url: string, codec: Codec): Promise<Conn> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const conn: Conn = { ws, pending: new Map() };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const reply = (codec === 'msgpack' && isBinary ? unpackr.unpack(data) : JSON.parse(data.toString('utf8'))) as { id: number; error?: { code: string } };
    const p = conn.pending.get(reply.id);
    if (!p) return;
    conn.pending.delete(reply.id);
    p.resolve({ error: reply.error?.code });
  });
  return conn;
}

function send(conn: Conn, codec: Codec, body: Record<string, unknown>, id: number, sentAt: number): Promise<{ error?: string }> {
  return new Promise((resolve) => {
    conn.pending.set(id, { sentAt, resolve });
    const msg = { ...body, id };
    conn.ws.send(codec === 'msgpack' ? packr.pack(msg) : JSON.stringify(msg), { binary: codec === 'msgpack' });
  });
}

function summarise(h: hdr.Histogram, count: number, errors: Record<string, number>, seconds: number): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000;
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
  return {
    count,
    errors: errorCount,
    errorCodes: errors,
    seconds: Number(seconds.toFixed(2)),
    throughput: Math.round(count / seconds),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

export interface ClosedLoopOptions {
  url: string;
  codec: Codec;
  connections: number;
  /** Requests kept outstanding per connection. */
  depth: number;
  seconds: number;
  request: RequestFactory;
}

/** Saturation: every connection keeps `depth` requests in flight; the completion rate is the maximum throughput. */
export async function closedLoop(o: ClosedLoopOptions): Promise<LatencySummary> {
  const conns = await Promise.all(Array.from({ length: o.connections }, () => connect(o.url, o.codec)));
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const errors: Record<string, number> = {};
  let seq = 0;
  let count = 0;
  const start = performance.now();
  const end = start + o.seconds * 1000;
  await Promise.all(
    conns.flatMap((c) =>
      Array.from({ length: o.depth }, async () => {
        while (performance.now() < end) {
          const id = ++seq;
          const t0 = performance.now();
          const r = await send(c, o.codec, o.request(id), id, t0);
          h.recordValue(Math.max(1, (performance.now() - t0) * 1000));
          count++;
          if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
        }
      }),
    ),
  );
  const seconds = (performance.now() - start) / 1000;
  for (const c of conns) c.ws.close();
  return summarise(h, count, errors, seconds);
}

export interface OpenLoopOptions {
  url: string;
  codec: Codec;
  connections: number;
  /** Requests per second across all connections, sent on a fixed schedule. */
  rate: number;
  seconds: number;
  request: RequestFactory;
}

/**
 * Fixed arrival rate. Latency runs from when a request was *scheduled* to go out, not when it did,
 * so a server (or client) stall shows up in the percentiles instead of silently lowering the load
 * (no coordinated omission).
 */
export async function openLoop(o: OpenLoopOptions): Promise<LatencySummary> {
  const conns = await Promise.all(Array.from({ length: o.connections }, () => connect(o.url, o.codec)));
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const errors: Record<string, number> = {};
  const interval = 1000 / o.rate;
  const total = Math.round(o.rate * o.seconds);
  const outstanding: Promise<void>[] = [];
  let count = 0;
  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      // Send everything whose scheduled time has come, even if the timer fired late.
      while (next < total && start + next * interval <= now) {
        const id = next + 1;
        const scheduled = start + next * interval;
        const conn = conns[next % conns.length];
        outstanding.push(
          send(conn, o.codec, o.request(id), id, scheduled).then((r) => {
            h.recordValue(Math.max(1, (performance.now() - scheduled) * 1000));
            count++;
            if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
          }),
        );
        next++;
      }
      if (next >= total) resolve();
      else setImmediate(tick);
    };
    tick();
  });
  await Promise.all(outstanding);
  const seconds = (performance.now() - start) / 1000;
  for (const c of conns) c.ws.close();
  return summarise(h, count, errors, seconds);
}
