import { csvField } from '../data/csv.js';
import { VitrineError } from '../protocol/errors.js';
import type { ChosenPromotion } from './promotion-plan.js';

export type OutputFormat = 'jsonl' | 'csv';

export interface UserResult {
  user: string;
  items: string[];
  /**
   * Exact user · item embedding scores (NaN for cold-start fill-ins): what the top K is ranked by. Not a
   * probability; `propensity` is the ranker's, the quantity `recommend` calls `score`.
   */
  embeddingScores: number[];
  propensity?: number[];
  segment?: { id: number; label: string };
  /** With --promotions: the offer chosen for the user (null: show nothing). */
  promotion?: ChosenPromotion | null;
  coldStart: boolean;
}

export function formatOf(path: string): OutputFormat {
  if (path.endsWith('.jsonl') || path.endsWith('.ndjson')) return 'jsonl';
  if (path.endsWith('.csv')) return 'csv';
  throw new VitrineError(
    'invalid_argument',
    `--out ${path}: use a .jsonl or .csv file name (the format follows the extension)`,
  );
}

const num = (x: number): number | null => (Number.isNaN(x) ? null : Number(x.toPrecision(7)));

export function csvHeader(propensity: boolean, segments: boolean, promotions = false): string {
  return (
    [
      'user_id',
      'rank',
      'item_id',
      'embedding_score',
      ...(propensity ? ['propensity'] : []),
      ...(segments ? ['segment', 'segment_label'] : []),
      ...(promotions ? ['promotion_id', 'promotion_label', 'promotion_code', 'promotion_propensity'] : []),
      'cold_start',
    ].join(',') + '\n'
  );
}

/**
 * One block of users as text: a JSON object per user (JSONL), or one row per (user, item) (CSV).
 * Blocks are formatted in the workers and appended in order by the job.
 */
export function formatBlock(
  results: UserResult[],
  format: OutputFormat,
  propensity: boolean,
  segments: boolean,
  promotions = false,
): string {
  let out = '';
  for (const r of results) {
    if (format === 'jsonl') {
      const o: Record<string, unknown> = { user: r.user, items: r.items, embeddingScores: r.embeddingScores.map(num) };
      if (propensity) o.propensity = r.propensity?.map(num) ?? null;
      if (segments) o.segment = r.segment ?? null;
      if (promotions) o.promotion = r.promotion ?? null;
      if (r.coldStart) o.coldStart = true;
      out += JSON.stringify(o) + '\n';
    } else {
      const row = (q: number): void => {
        const item = q < r.items.length;
        const cells: (string | number | null)[] = [
          csvField(r.user),
          item ? q + 1 : null,
          item ? csvField(r.items[q]) : null,
          item ? num(r.embeddingScores[q]) : null,
        ];
        if (propensity) cells.push(item && r.propensity ? num(r.propensity[q]) : null);
        if (segments) cells.push(r.segment?.id ?? null, r.segment ? csvField(r.segment.label) : null);
        if (promotions) {
          const p = r.promotion;
          cells.push(
            p ? csvField(p.id) : null,
            p ? csvField(p.label) : null,
            p?.code ? csvField(p.code) : null,
            p ? p.propensity : null,
          );
        }
        cells.push(r.coldStart ? 1 : 0);
        out += cells.map((c) => (c === null ? '' : String(c))).join(',') + '\n';
      };
      // A user with nothing left to recommend (every available item seen) still gets a row, with
      // rank, item and score empty: every requested user is in the file, with its segment.
      if (r.items.length === 0) row(0);
      for (let q = 0; q < r.items.length; q++) row(q);
    }
  }
  return out;
}
