import { readFileSync } from 'node:fs';
import { VitrineError } from '../protocol/errors.js';
import type { LoadRun } from './run.js';

/** A run's JSON as `vitrine loadtest --json` wrote it, checked enough to compare. */
export function readRun(file: string): LoadRun {
  let run: unknown;
  try {
    run = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new VitrineError('invalid_argument', `${file}: not a loadtest JSON file (${(e as Error).message})`);
  }
  const r = run as Partial<LoadRun> | null;
  if (!r || typeof r.name !== 'string' || !r.result || typeof r.result.overall !== 'object')
    throw new VitrineError(
      'invalid_argument',
      `${file}: not a loadtest JSON file (written by vitrine loadtest --json)`,
    );
  return r as LoadRun;
}

/** Two runs side by side: throughput and latency overall and per call, and the second over the first. */
export function compareRows(a: LoadRun, b: LoadRun): (string | number)[][] {
  const ratio = (x: number, y: number): string => (x > 0 ? `${(y / x).toFixed(2)}×` : '-');
  const rows: (string | number)[][] = [];
  const add = (label: string, x: number, y: number): void => {
    rows.push([label, x, y, ratio(x, y)]);
  };
  add('achieved req/s', a.result.achievedRate, b.result.achievedRate);
  add('goodput (ok/s)', a.result.goodput, b.result.goodput);
  for (const p of ['p50', 'p90', 'p99', 'p999', 'max'] as const)
    add(`${p} ms`, a.result.overall[p], b.result.overall[p]);
  add('errors', a.result.overall.count - a.result.overall.ok, b.result.overall.count - b.result.overall.ok);
  const calls = [...new Set([...Object.keys(a.result.byCall), ...Object.keys(b.result.byCall)])].sort();
  for (const c of calls) {
    const x = a.result.byCall[c];
    const y = b.result.byCall[c];
    if (x && y) {
      add(`${c} p50 ms`, x.p50, y.p50);
      add(`${c} p99 ms`, x.p99, y.p99);
    }
  }
  if (a.findMax && b.findMax)
    add(`max rate at ${a.findMax.slo.percentile} ≤ ${a.findMax.slo.ms} ms`, a.findMax.max, b.findMax.max);
  return rows;
}
