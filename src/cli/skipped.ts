import type { DatasetSource } from '../data/dataset.js';
import { warn } from '../util/progress.js';

/**
 * Says on stderr what --lenient skipped, whatever the progress setting: records left out of a
 * model must never go unmentioned.
 */
export function reportSkipped(skipped: DatasetSource['skipped']): void {
  if (!skipped || skipped.skipped === 0) return;
  const reasons = Object.entries(skipped.byReason)
    .map(([reason, n]) => `${n} × ${reason}`)
    .join('; ');
  warn(
    `skipped ${skipped.skipped} bad input records (--lenient): ${reasons}${skipped.examples.length > 0 ? `\n  e.g. ${skipped.examples[0]}` : ''}`,
  );
}
