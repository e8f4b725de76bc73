import { csvField } from '../data/csv.js';
import { UserError } from '../util/errors.js';

export type OutputFormat = 'jsonl' | 'csv';

export interface UserResult {
  user: string;
  items: string[];
  /** Exact user · item scores (NaN for cold-start fill-ins). */
  scores: number[];
  propensity?: number[];
  segment?: { id: number; label: string };
  coldStart: boolean;
}

export function formatOf(path: string): OutputFormat {
  if (path.endsWith('.jsonl') || path.endsWith('.ndjson')) return 'jsonl';
  if (path.endsWith('.csv')) return 'csv';
  throw new UserError(`--out ${path}: use a .jsonl or .csv file name (the format follows the extension)`);
}

const num = (x: number): number | null => (Number.isNaN(x) ? null : Number(x.toPrecision(7)));

export function csvHeader(propensity: boolean, segments: boolean): string {
  return ['user_id', 'rank', 'item_id', 'score', ...(propensity ? ['propensity'] : []), ...(segments ? ['segment', 'segment_label'] : []), 'cold_start'].join(',') + '\n';
}

/**
 * One block of users as text: a JSON object per user (JSONL), or one row per (user, item) (CSV).
 * Blocks are formatted in the workers and appended in order by the job.
 */
export function formatBlock(results: UserResult[], format: OutputFormat, propensity: boolean, segments: boolean): string {
  let out = '';
  for (const r of results) {
    if (format === 'jsonl') {
      const o: Record<string, unknown> = { user: r.user, items: r.items, scores: r.scores.map(num) };
      if (propensity) o.propensity = r.propensity?.map(num) ?? null;
      if (segments) o.segment = r.segment ?? null;
      if (r.coldStart) o.coldStart = true;
      out += JSON.stringify(o) + '\n';
    } else {
      r.items.forEach((item, q) => {
        const cells: (string | number | null)[] = [csvField(r.user), q + 1, csvField(item), num(r.scores[q])];
        if (propensity) cells.push(r.propensity ? num(r.propensity[q]) : null);
        if (segments) cells.push(r.segment?.id ?? null, r.segment ? csvField(r.segment.label) : null);
        cells.push(r.coldStart ? 1 : 0);
        out += cells.map((c) => (c === null ? '' : String(c))).join(',') + '\n';
      });
    }
  }
  return out;
}
