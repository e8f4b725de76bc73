import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { openTarget } from '../../src/load/target.js';
import { runLoad, type Traffic } from '../../src/load/engine.js';
import { findMax, judge, parseSlo } from '../../src/load/find-max.js';
import { latencyHistogram, percentiles } from '../../src/load/histograms.js';
import type { LoadResult } from '../../src/load/engine.js';
import type { Outcome, Target } from '../../src/load/target.js';
import { Rng } from '../../src/util/rng.js';

const traffic: Traffic = { next: () => ({ call: 'recommend', body: { user: 'u1', k: 10 } }) };

/**
 * A server that answers in 1 ms, except that it stops answering for one second, starting one second
 * into the measured run (a GC pause, a blocked event loop), and then answers everything it held.
 */
function stallingTarget(): Target & { measuredFrom: () => void } {
  let stallFrom = Number.POSITIVE_INFINITY;
  const held: (() => void)[] = [];
  return {
    connections: 1,
    measuredFrom: () => {
      stallFrom = performance.now() + 1000;
      setTimeout(() => held.splice(0).forEach((r) => r()), 2000);
    },
    send: () =>
      new Promise<Outcome>((resolve) => {
        const now = performance.now();
        const answer = () => resolve({ serverMs: 1, result: {} });
        if (now >= stallFrom && now < stallFrom + 1000) held.push(answer);
        else setTimeout(answer, 1);
      }),
    close: async () => undefined,
  };
}

describe('the load engine', () => {
  it('times open-loop requests from their scheduled send, so a 1 s stall shows in the requests behind it', async () => {
    const target = stallingTarget();
    target.measuredFrom();
    const r = await runLoad(target, { rate: 200, seconds: 3, warmupSeconds: 0, traffic });
    // A third of the requests were scheduled during the stall; theirs waited from 1 s down to 0.
    expect(r.overall.count).toBe(600);
    expect(r.overall.ok).toBe(600);
    expect(r.overall.p50).toBeLessThan(100);
    expect(r.overall.p90).toBeGreaterThan(500);
    expect(r.overall.p99).toBeGreaterThan(900);
    expect(r.overall.max).toBeGreaterThan(950);
    // The second the stall began holds the requests scheduled in it: their p50 is hundreds of ms.
    expect(r.timeline[1].p50).toBeGreaterThan(300);
    expect(r.timeline[0].p99).toBeLessThan(100);
    // The server's own time (1 ms in every reply) is kept apart from what the client saw.
    expect(r.overall.server.p99).toBeLessThan(2);
  });

  it("shows a real server's 1 s stall the same way, through the client and WebSocket connections", async () => {
    // A WebSocket server that answers at once, except that it holds every reply from 1 s to 2 s into the run.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    let stallFrom = Number.POSITIVE_INFINITY;
    const held: (() => void)[] = [];
    wss.on('connection', (ws) =>
      ws.on('message', (data: Buffer) => {
        const { id } = JSON.parse(data.toString()) as { id: number };
        const reply = () => ws.send(JSON.stringify({ id, result: {}, bundle: 'v1', serverMs: 0.1 }));
        const now = performance.now();
        if (now >= stallFrom && now < stallFrom + 1000) held.push(reply);
        else reply();
      }),
    );
    const { port } = wss.address() as { port: number };
    const target = await openTarget({ url: `ws://127.0.0.1:${port}`, connections: 2, codec: 'json', timeoutMs: 5000 });
    try {
      stallFrom = performance.now() + 1000;
      setTimeout(() => held.splice(0).forEach((r) => r()), 2000);
      const r = await runLoad(target, { rate: 200, seconds: 3, warmupSeconds: 0, traffic });
      expect(r.overall.ok).toBe(600);
      expect(r.overall.p50).toBeLessThan(100);
      expect(r.overall.p90).toBeGreaterThan(500);
      expect(r.overall.p99).toBeGreaterThan(900);
      expect(r.overall.server.p99).toBeLessThan(1);
    } finally {
      await target.close();
      wss.close();
    }
  });

  it("counts errors by code and keeps the successful replies' latency apart", async () => {
    let n = 0;
    const target: Target = {
      connections: 1,
      send: async () => (++n % 4 === 0 ? { error: 'overloaded' } : { serverMs: 1, result: {} }),
      close: async () => undefined,
    };
    const r = await runLoad(target, { rate: 400, seconds: 1, warmupSeconds: 0, traffic });
    expect(r.overall.errors).toEqual({ overloaded: 100 });
    expect(r.overall.ok).toBe(300);
    expect(r.goodput).toBeLessThan(r.achievedRate);
  });
});

describe('latency histograms', () => {
  it('give the percentiles of known distributions to within 1%', () => {
    const uniform = latencyHistogram();
    for (let us = 1; us <= 10_000; us++) uniform.recordValue(us);
    const u = percentiles(uniform);
    expect(u.p50).toBeCloseTo(5, 1);
    expect(u.p99).toBeCloseTo(9.9, 1);
    expect(u.max).toBeCloseTo(10, 1);

    // Exponential with a 2 ms mean: the p-th percentile is -2 ln(1 - p).
    const rng = new Rng(7);
    const exp = latencyHistogram();
    for (let j = 0; j < 200_000; j++) exp.recordValue(Math.max(1, Math.round(-2000 * Math.log(1 - rng.next()))));
    const e = percentiles(exp);
    for (const [p, got] of [
      [0.5, e.p50],
      [0.9, e.p90],
      [0.99, e.p99],
    ] as const)
      expect(Math.abs(got - -2 * Math.log(1 - p)) / (-2 * Math.log(1 - p))).toBeLessThan(0.02);
  });
});

const step = (rate: number, p99: number, extra: Partial<LoadResult> = {}): LoadResult => ({
  mode: 'open',
  offeredRate: rate,
  achievedRate: rate,
  goodput: rate,
  seconds: 1,
  overall: {
    count: rate,
    ok: rate,
    errors: {},
    p50: 1,
    p90: 2,
    p99,
    p999: p99,
    max: p99,
    mean: 1,
    server: { p50: 1, p99 },
    admitted: { p50: 1, p99, serverP99: p99 },
  },
  byCall: {},
  timeline: [],
  distribution: [],
  ...extra,
});

describe('finding the highest rate that meets an objective', () => {
  it('doubles until a step misses, then narrows the gap', async () => {
    const edge = 1000;
    const rates: number[] = [];
    const out = await findMax(
      async (rate) => {
        rates.push(rate);
        return step(rate, rate <= edge ? 5 : 40);
      },
      parseSlo('p99=10ms'),
      { start: 100, maxRate: 100_000, refine: 3 },
    );
    expect(rates.slice(0, 5)).toEqual([100, 200, 400, 800, 1600]);
    expect(out.max).toBeLessThanOrEqual(edge);
    expect(out.max).toBeGreaterThan(edge * 0.85);
  });

  it('measures a missed rate again: one bad step does not cap the search, two misses are final', async () => {
    const edge = 1000;
    const rates: number[] = [];
    let hiccups = 1;
    const out = await findMax(
      async (rate) => {
        rates.push(rate);
        // One pause lands in the first step at 400/s; everything up to the edge meets it otherwise.
        if (rate === 400 && hiccups-- > 0) return step(rate, 40);
        return step(rate, rate <= edge ? 5 : 40);
      },
      parseSlo('p99=10ms'),
      { start: 100, maxRate: 100_000, refine: 3 },
    );
    // 400 missed, met and met again (two of three); 1600 missed twice and was not tried a third time.
    expect(rates.slice(0, 8)).toEqual([100, 200, 400, 400, 400, 800, 1600, 1600]);
    expect(out.steps.filter((s) => s.rate === 400).map((s) => s.met)).toEqual([false, true, true]);
    expect(out.max).toBeLessThanOrEqual(edge);
    expect(out.max).toBeGreaterThan(edge * 0.85);

    // A rate that misses, then meets, then misses counts as missed.
    const flaky = [false, true, false];
    const edgeOnly = await findMax(
      async (rate) => step(rate, rate === 200 ? (flaky.shift() ? 5 : 40) : rate < 200 ? 5 : 40),
      parseSlo('p99=10ms'),
      { start: 100, maxRate: 100_000, refine: 0 },
    );
    expect(edgeOnly.max).toBe(100);
    expect(edgeOnly.steps.map((s) => s.rate)).toEqual([100, 200, 200, 200]);
  });

  it('judges a step by its latency, its errors and the rate it reached', () => {
    const slo = parseSlo('p99=10ms');
    expect(judge(step(100, 5), slo)).toBeUndefined();
    expect(judge(step(100, 12), slo)).toMatch(/p99 12 ms > 10 ms/);
    const errors = step(100, 5);
    errors.overall.ok = 90;
    expect(judge(errors, slo)).toMatch(/10 errors of 100/);
    expect(judge(step(100, 5, { achievedRate: 80 }), slo)).toMatch(/achieved 80\/s of 100\/s/);
  });

  it('reads objectives and names what is wrong with a bad one', () => {
    expect(parseSlo('p999=0.05s')).toEqual({ percentile: 'p999', ms: 50 });
    expect(parseSlo('p50 = 3')).toEqual({ percentile: 'p50', ms: 3 });
    expect(() => parseSlo('p98=10ms')).toThrow(/--slo: "p98=10ms" is not a percentile and a time/);
    expect(() => parseSlo('p99=0ms')).toThrow(/--slo: the time must be above 0/);
  });
});
