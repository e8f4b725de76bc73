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
  /** Successful replies per second (refusals answer fast and would inflate `throughput`). */
  goodput: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  /**
   * The server's own time (`serverMs` in its replies), to tell server latency from transport and
   * client: on a 2-core machine the load generator competes with the server it measures.
   */
  server: { p50: number; p99: number };
  /**
   * Open loop only: how late the client sent each request after its scheduled time (its timers fire
   * up to ~1 ms late, and later when it is starved of CPU). Included in the latencies above.
   */
  sendLateness?: { p50: number; p99: number };
}

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/** What a reply told the client: its error code, if any, and the server's own time. */
interface Answer {
  error?: string;
  serverMs?: number;
}

interface Conn {
  ws: WebSocket;
  pending: Map<number, (a: Answer) => void>;
}

async function connect(url: string, codec: Codec): Promise<Conn> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const conn: Conn = { ws, pending: new Map() };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const reply = (codec === 'msgpack' && isBinary ? unpackr.unpack(data) : JSON.parse(data.toString('utf8'))) as {
      id: number;
      error?: { code: string };
      serverMs?: number;
    };
    const resolve = conn.pending.get(reply.id);
    if (!resolve) return;
    conn.pending.delete(reply.id);
    resolve({ error: reply.error?.code, serverMs: reply.serverMs });
  });
  // A server that goes away (or a broken socket) fails what was in flight instead of leaving the
  // run waiting for replies that will never come.
  const fail = (): void => {
    for (const resolve of conn.pending.values()) resolve({ error: 'connection_closed' });
    conn.pending.clear();
  };
  ws.on('close', fail);
  ws.on('error', fail);
  return conn;
}

function send(conn: Conn, codec: Codec, body: Record<string, unknown>, id: number): Promise<Answer> {
  if (conn.ws.readyState !== WebSocket.OPEN) return Promise.resolve({ error: 'connection_closed' });
  return new Promise((resolve) => {
    conn.pending.set(id, resolve);
    const msg = { ...body, id };
    conn.ws.send(codec === 'msgpack' ? packr.pack(msg) : JSON.stringify(msg), { binary: codec === 'msgpack' });
  });
}

const ms = (us: number): number => Math.round(us) / 1000;
const histogram = (): hdr.Histogram =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
const p50p99 = (h: hdr.Histogram): { p50: number; p99: number } => ({
  p50: ms(h.getValueAtPercentile(50)),
  p99: ms(h.getValueAtPercentile(99)),
});

function summarise(rec: Recorder, seconds: number, lateness?: hdr.Histogram): LatencySummary {
  const { histogram: h, count, errors } = rec;
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
  return {
    count,
    errors: errorCount,
    errorCodes: errors,
    seconds: Number(seconds.toFixed(2)),
    throughput: Math.round(count / seconds),
    goodput: Math.round((count - errorCount) / seconds),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
    server: p50p99(rec.server),
    ...(lateness ? { sendLateness: p50p99(lateness) } : {}),
  };
}

interface LoadOptions {
  url: string;
  codec: Codec;
  connections: number;
  seconds: number;
  request: RequestFactory;
}

/** Latencies (µs) and error codes of one run, over a set of open connections. */
class Recorder {
  readonly histogram = histogram();
  readonly server = histogram();
  readonly errors: Record<string, number> = {};
  count = 0;

  record(since: number, a: Answer): void {
    this.histogram.recordValue(Math.max(1, (performance.now() - since) * 1000));
    if (a.serverMs !== undefined) this.server.recordValue(Math.max(1, a.serverMs * 1000));
    this.count++;
    if (a.error) this.errors[a.error] = (this.errors[a.error] ?? 0) + 1;
  }

  finish(conns: Conn[], started: number, lateness?: hdr.Histogram): LatencySummary {
    for (const c of conns) c.ws.close();
    return summarise(this, (performance.now() - started) / 1000, lateness);
  }
}

const connectAll = (o: LoadOptions): Promise<Conn[]> =>
  Promise.all(Array.from({ length: o.connections }, () => connect(o.url, o.codec)));

export interface ClosedLoopOptions extends LoadOptions {
  /** Requests kept outstanding per connection. */
  depth: number;
}

/** Saturation: every connection keeps `depth` requests in flight; the completion rate is the maximum throughput. */
export async function closedLoop(o: ClosedLoopOptions): Promise<LatencySummary> {
  const conns = await connectAll(o);
  const rec = new Recorder();
  let seq = 0;
  const start = performance.now();
  const end = start + o.seconds * 1000;
  await Promise.all(
    conns.flatMap((c) =>
      Array.from({ length: o.depth }, async () => {
        // A closed connection ends its loops (its failed requests are counted as errors).
        while (performance.now() < end && c.ws.readyState === WebSocket.OPEN) {
          const id = ++seq;
          const t0 = performance.now();
          rec.record(t0, await send(c, o.codec, o.request(id), id));
        }
      }),
    ),
  );
  return rec.finish(conns, start);
}

export interface OpenLoopOptions extends LoadOptions {
  /** Requests per second across all connections, sent on a fixed schedule. */
  rate: number;
}

/**
 * Fixed arrival rate. Latency runs from when a request was *scheduled* to go out, not when it did,
 * so a server (or client) stall shows up in the percentiles instead of silently lowering the load
 * (no coordinated omission).
 */
export async function openLoop(o: OpenLoopOptions): Promise<LatencySummary> {
  const conns = await connectAll(o);
  const rec = new Recorder();
  const interval = 1000 / o.rate;
  const total = Math.round(o.rate * o.seconds);
  const outstanding: Promise<void>[] = [];
  const lateness = histogram();
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
        lateness.recordValue(Math.max(1, (performance.now() - scheduled) * 1000));
        outstanding.push(send(conn, o.codec, o.request(id), id).then((a) => rec.record(scheduled, a)));
        next++;
      }
      // Sleep until the next send is due rather than spinning: a polling client would take a whole
      // core from the server it measures. Timer lateness is charged to latency (from the schedule).
      if (next >= total) resolve();
      else setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(outstanding);
  return rec.finish(conns, start, lateness);
}
