import type { ServerMetrics } from '../metrics.js';

/** Each call's traffic over one interval, from the server's own Prometheus metrics. */
export interface CallTraffic {
  /** Requests answered per second (any outcome). */
  rps: number;
  /** Requests answered with an error per second. */
  errors: number;
  /** Server-side latency percentiles, ms, interpolated within the histogram's buckets; null when idle. */
  p50: number | null;
  p99: number | null;
}

export interface TrafficSeries {
  intervalSeconds: number;
  /** Unix seconds at each interval's end. */
  t: number[];
  calls: Record<string, { rps: number[]; errors: number[]; p50: (number | null)[]; p99: (number | null)[] }>;
}

interface Snapshot {
  at: number;
  /** Per call: answered, errors, and cumulative counts per latency bucket bound (seconds, +Inf last). */
  calls: Map<string, { total: number; errors: number; buckets: Map<number, number> }>;
}

/**
 * Samples the request counter and the latency histogram every interval and keeps the differences
 * (a bounded ring: `keep` intervals), so that the dashboard draws rates and percentiles over time
 * from the same figures /metrics exposes, as Prometheus's histogram_quantile would.
 */
export class TrafficSampler {
  private last: Snapshot | undefined;
  private readonly points: { t: number; calls: Record<string, CallTraffic> }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly metrics: ServerMetrics,
    readonly intervalSeconds = 2,
    private readonly keep = 450,
  ) {}

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalSeconds * 1000);
    // The sampler never keeps the process alive by itself.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async sample(): Promise<void> {
    const now = await this.snapshot();
    const before = this.last;
    this.last = now;
    if (!before) return;
    const seconds = Math.max(1e-3, (now.at - before.at) / 1000);
    const calls: Record<string, CallTraffic> = {};
    for (const [call, c] of now.calls) {
      const b = before.calls.get(call);
      const total = c.total - (b?.total ?? 0);
      const deltas = [...c.buckets].map(([le, n]): [number, number] => [le, n - (b?.buckets.get(le) ?? 0)]);
      calls[call] = {
        rps: total / seconds,
        errors: (c.errors - (b?.errors ?? 0)) / seconds,
        p50: quantile(deltas, 0.5),
        p99: quantile(deltas, 0.99),
      };
    }
    this.points.push({ t: Math.round(now.at / 1000), calls });
    if (this.points.length > this.keep) this.points.shift();
  }

  series(): TrafficSeries {
    const names = [...new Set(this.points.flatMap((p) => Object.keys(p.calls)))].sort();
    const calls: TrafficSeries['calls'] = {};
    for (const n of names)
      calls[n] = {
        rps: this.points.map((p) => round(p.calls[n]?.rps ?? 0)),
        errors: this.points.map((p) => round(p.calls[n]?.errors ?? 0)),
        p50: this.points.map((p) => p.calls[n]?.p50 ?? null),
        p99: this.points.map((p) => p.calls[n]?.p99 ?? null),
      };
    return { intervalSeconds: this.intervalSeconds, t: this.points.map((p) => p.t), calls };
  }

  private async snapshot(): Promise<Snapshot> {
    const [requests, latency] = await Promise.all([this.metrics.requests.get(), this.metrics.latency.get()]);
    const calls: Snapshot['calls'] = new Map();
    const of = (call: string) => {
      let c = calls.get(call);
      if (!c) calls.set(call, (c = { total: 0, errors: 0, buckets: new Map() }));
      return c;
    };
    for (const v of requests.values) {
      const c = of(String(v.labels.call));
      c.total += v.value;
      if (v.labels.outcome !== 'ok') c.errors += v.value;
    }
    for (const v of latency.values) {
      if (!v.metricName?.endsWith('_bucket')) continue;
      // prom-client adds the bucket's bound as a label its typings (the histogram's own labels) leave out.
      const bound = (v.labels as Record<string, string | number | undefined>).le;
      const le = bound === '+Inf' ? Number.POSITIVE_INFINITY : Number(bound);
      of(String(v.labels.call)).buckets.set(le, v.value);
    }
    return { at: Date.now(), calls };
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;

/**
 * The q-quantile (ms) of an interval's latencies from cumulative bucket counts, interpolated linearly
 * within the bucket that holds it; past the last finite bound, that bound.
 */
export function quantile(cumulative: [number, number][], q: number): number | null {
  const sorted = [...cumulative].sort((a, b) => a[0] - b[0]);
  const total = sorted.length > 0 ? sorted[sorted.length - 1][1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return Math.round(lowerBound * 1e6) / 1e3;
      const within = count - lowerCount;
      const share = within > 0 ? (rank - lowerCount) / within : 1;
      return Math.round((lowerBound + (le - lowerBound) * share) * 1e6) / 1e3;
    }
    lowerBound = le;
    lowerCount = count;
  }
  return Math.round(lowerBound * 1e6) / 1e3;
}
