import type { CallName } from '../protocol/calls.js';
import { distribution, type Histogram, latencyHistogram, ms, type Percentiles, percentiles } from './histograms.js';
import type { Target } from './target.js';

/** Where the requests come from: the next one to send, and (optionally) what each reply said. */
export interface Traffic {
  next(seq: number): { call: CallName; body: Record<string, unknown> };
  observe?(call: CallName, body: Record<string, unknown>, result: unknown): void;
}

export interface LoadPlan {
  /** Open loop: requests per second on a fixed schedule. Absent: closed loop. */
  rate?: number;
  /** Closed loop: requests each connection keeps outstanding. */
  depth?: number;
  seconds: number;
  warmupSeconds: number;
  traffic: Traffic;
}

export interface CallStats extends Percentiles {
  count: number;
  ok: number;
  /** Error codes (the server's, or the client's: client_timeout, connection_closed) and their counts. */
  errors: Record<string, number>;
  /** The server's own time in its replies. */
  server: { p50: number; p99: number };
  /** Latency of the successful replies alone (refusals are fast and would flatter the whole). */
  admitted: { p50: number; p99: number; serverP99: number };
}

/** One second of the run: completions, and the latency of the requests scheduled in it. */
export interface Second {
  t: number;
  ok: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  mode: 'open' | 'closed';
  offeredRate?: number;
  achievedRate: number;
  /** Successful replies per second. */
  goodput: number;
  seconds: number;
  overall: CallStats;
  byCall: Record<string, CallStats>;
  timeline: Second[];
  distribution: [number, number][];
  /** Open loop: how late the client sent after the schedule (included in the latencies). */
  sendLateness?: { p50: number; p99: number };
}

class Stats {
  readonly latency = latencyHistogram();
  readonly server = latencyHistogram();
  readonly admitted = latencyHistogram();
  readonly admittedServer = latencyHistogram();
  readonly errors: Record<string, number> = {};
  count = 0;
  ok = 0;

  add(us: number, error: string | undefined, serverMs: number | undefined): void {
    this.latency.recordValue(Math.max(1, us));
    if (serverMs !== undefined) this.server.recordValue(Math.max(1, serverMs * 1000));
    this.count++;
    if (error) this.errors[error] = (this.errors[error] ?? 0) + 1;
    else {
      this.ok++;
      this.admitted.recordValue(Math.max(1, us));
      if (serverMs !== undefined) this.admittedServer.recordValue(Math.max(1, serverMs * 1000));
    }
  }

  summary(): CallStats {
    const s = percentiles(this.server);
    const a = percentiles(this.admitted);
    return {
      count: this.count,
      ok: this.ok,
      errors: this.errors,
      ...percentiles(this.latency),
      server: { p50: s.p50, p99: s.p99 },
      admitted: { p50: a.p50, p99: a.p99, serverP99: percentiles(this.admittedServer).p99 },
    };
  }
}

/** What one measured run collects: per call, over time, and overall. */
class Recording {
  readonly overall = new Stats();
  readonly byCall = new Map<string, Stats>();
  readonly perSecond: { hist: Histogram; ok: number; errors: number }[] = [];

  constructor(readonly start: number) {}

  private second(at: number) {
    const s = Math.max(0, Math.floor((at - this.start) / 1000));
    while (this.perSecond.length <= s) this.perSecond.push({ hist: latencyHistogram(), ok: 0, errors: 0 });
    return this.perSecond[s];
  }

  record(call: string, scheduled: number, error: string | undefined, serverMs: number | undefined): void {
    const now = performance.now();
    const us = (now - scheduled) * 1000;
    this.overall.add(us, error, serverMs);
    let c = this.byCall.get(call);
    if (!c) this.byCall.set(call, (c = new Stats()));
    c.add(us, error, serverMs);
    this.second(scheduled).hist.recordValue(Math.max(1, us));
    const done = this.second(now);
    if (error) done.errors++;
    else done.ok++;
  }
}

async function sendOne(
  target: Target,
  traffic: Traffic,
  seq: number,
  scheduled: number,
  rec?: Recording,
): Promise<void> {
  const { call, body } = traffic.next(seq);
  const out = await target.send(call, body);
  if (!out.error && out.result !== undefined) traffic.observe?.(call, body, out.result);
  rec?.record(call, scheduled, out.error, out.serverMs);
}

/** Closed loop: every connection keeps `depth` requests outstanding until `until`. */
async function closed(target: Target, plan: LoadPlan, until: number, rec?: Recording): Promise<void> {
  let seq = 0;
  const loops = target.connections * (plan.depth ?? 1);
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        await sendOne(target, plan.traffic, ++seq, t0, rec);
      }
    }),
  );
}

/**
 * Open loop: requests on a fixed schedule, each timed from when it was *scheduled* to go out, so a
 * stall (server or client) shows in the percentiles of the requests behind it instead of quietly
 * lowering the load (wrk2's correction for coordinated omission).
 */
async function open(target: Target, plan: LoadPlan, seconds: number, rec?: Recording, late?: Histogram): Promise<void> {
  const rate = plan.rate!;
  const interval = 1000 / rate;
  const total = Math.round(rate * seconds);
  const start = performance.now();
  const outstanding: Promise<void>[] = [];
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      while (next < total && start + next * interval <= now) {
        const scheduled = start + next * interval;
        late?.recordValue(Math.max(1, (performance.now() - scheduled) * 1000));
        outstanding.push(sendOne(target, plan.traffic, next + 1, scheduled, rec));
        next++;
      }
      // Sleeping until the next send is due, not spinning: a polling client would take a core from
      // the server it measures. Timer lateness is charged to latency (it counts from the schedule).
      if (next >= total) resolve();
      else setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(outstanding);
}

/** A warm-up (not recorded), then the measured run. */
export async function runLoad(target: Target, plan: LoadPlan): Promise<LoadResult> {
  const isOpen = plan.rate !== undefined;
  if (plan.warmupSeconds > 0) {
    if (isOpen) await open(target, plan, plan.warmupSeconds);
    else await closed(target, plan, performance.now() + plan.warmupSeconds * 1000);
  }
  const started = performance.now();
  const rec = new Recording(started);
  const late = isOpen ? latencyHistogram() : undefined;
  if (isOpen) await open(target, plan, plan.seconds, rec, late);
  else await closed(target, plan, started + plan.seconds * 1000, rec);
  const seconds = (performance.now() - started) / 1000;
  const overall = rec.overall.summary();
  return {
    mode: isOpen ? 'open' : 'closed',
    ...(isOpen && { offeredRate: plan.rate }),
    achievedRate: Math.round(overall.count / seconds),
    goodput: Math.round(overall.ok / seconds),
    seconds: Number(seconds.toFixed(2)),
    overall,
    byCall: Object.fromEntries([...rec.byCall].map(([c, s]) => [c, s.summary()])),
    timeline: rec.perSecond.map((s, t) => ({ t, ok: s.ok, errors: s.errors, ...pick(percentiles(s.hist)) })),
    distribution: distribution(rec.overall.latency),
    ...(late && { sendLateness: { p50: ms(late.getValueAtPercentile(50)), p99: ms(late.getValueAtPercentile(99)) } }),
  };
}

const pick = (p: Percentiles) => ({ p50: p.p50, p90: p.p90, p99: p.p99, max: p.max });
