import * as hdr from 'hdr-histogram-js';

/** Latencies in µs, 1 µs to 60 s, three significant digits. */
export const latencyHistogram = (): hdr.Histogram =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

export const ms = (us: number): number => Math.round(us) / 1000;

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** A histogram's percentiles in ms. */
export function percentiles(h: hdr.Histogram): Percentiles {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

/** The latency distribution as (percentile, ms) points, for the report's distribution chart. */
export function distribution(h: hdr.Histogram): [number, number][] {
  if (h.totalCount === 0) return [];
  const points = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];
  return points.map((p) => [p, ms(p === 100 ? h.maxValue : h.getValueAtPercentile(p))]);
}

export type { Histogram } from 'hdr-histogram-js';
