import { VitrineError } from '../protocol/errors.js';
import type { LoadResult } from './engine.js';

export interface Slo {
  percentile: 'p50' | 'p90' | 'p99' | 'p999';
  ms: number;
}

/** `p99=10ms` (or `p99=10`, `p999=0.05s`). */
export function parseSlo(text: string): Slo {
  const m = /^(p50|p90|p99|p999)\s*=\s*([0-9.]+)\s*(ms|s)?$/.exec(text.trim());
  if (!m) throw new VitrineError('invalid_argument', `--slo: "${text}" is not a percentile and a time (e.g. p99=10ms)`);
  const value = Number(m[2]) * (m[3] === 's' ? 1000 : 1);
  if (!(value > 0)) throw new VitrineError('invalid_argument', '--slo: the time must be above 0');
  return { percentile: m[1] as Slo['percentile'], ms: value };
}

export interface Step {
  rate: number;
  result: LoadResult;
  met: boolean;
  /** Why the step missed the objective. */
  missed?: string;
}

/** Errors a step may have and still count as meeting the objective. */
const ERROR_BUDGET = 0.01;

/** Whether one open-loop step met the objective: its latency, almost no errors, and the rate it was offered. */
export function judge(result: LoadResult, slo: Slo): string | undefined {
  const o = result.overall;
  if (o[slo.percentile] > slo.ms) return `${slo.percentile} ${o[slo.percentile]} ms > ${slo.ms} ms`;
  const errors = o.count - o.ok;
  if (errors > ERROR_BUDGET * o.count) return `${errors} errors of ${o.count}`;
  if (result.offeredRate !== undefined && result.achievedRate < 0.95 * result.offeredRate)
    return `achieved ${result.achievedRate}/s of ${result.offeredRate}/s offered`;
  return undefined;
}

/**
 * The highest open-loop rate that meets the objective: doubling from `start` until a rate misses,
 * then halving the gap between the last rate that met it and the first that did not, `refine` times
 * (three: within ~12% of the edge).
 *
 * A step that misses is measured again, and a rate counts as missed only when two of its (at most
 * three) steps missed. A tail percentile over a few thousand requests is set by a handful of them:
 * one pause of the server or the host (a garbage collection, a noisy neighbour) makes a single step
 * miss at a rate the server sustains, and taken as final it capped the whole search below it (the
 * bench bundle's envelope, 2026-12-08: a 19 ms p99 at 400/s for a server whose p99 over 10 s at
 * 1,200/s was 7-13 ms gave a maximum of 375/s). A rate really past the edge misses twice in a row,
 * which costs one step more.
 */
export async function findMax(
  run: (rate: number) => Promise<LoadResult>,
  slo: Slo,
  o: { start: number; maxRate: number; refine: number; onStep?: (s: Step) => void },
): Promise<{ max: number; steps: Step[] }> {
  const steps: Step[] = [];
  const step = async (rate: number): Promise<boolean> => {
    const result = await run(rate);
    const missed = judge(result, slo);
    const s: Step = { rate, result, met: missed === undefined, ...(missed !== undefined && { missed }) };
    steps.push(s);
    o.onStep?.(s);
    return s.met;
  };
  const meets = async (rate: number): Promise<boolean> =>
    (await step(rate)) || ((await step(rate)) && (await step(rate)));
  let good = 0;
  let bad = 0;
  for (let rate = o.start; rate <= o.maxRate; rate *= 2) {
    if (await meets(rate)) good = rate;
    else {
      bad = rate;
      break;
    }
  }
  if (bad === 0) return { max: good, steps };
  for (let r = 0; r < o.refine && bad - good > 1; r++) {
    const mid = Math.round((good + bad) / 2);
    if (await meets(mid)) good = mid;
    else bad = mid;
  }
  return { max: good, steps };
}
