import { VitrineError } from '../protocol/errors.js';

/** Problems with input data, always naming where they are so a user can fix the file. */
export class DataError extends VitrineError {
  constructor(
    readonly file: string,
    readonly line: number,
    field: string | undefined,
    readonly problem: string,
  ) {
    super(
      'data_error',
      `${file}${line > 0 ? `:${line}` : ''}: ${field !== undefined ? `field "${field}": ` : ''}${problem}`,
      field,
    );
    this.name = 'DataError';
  }
}

const MAX_REASONS = 50;
const OTHER_REASONS = 'other reasons (beyond the first 50 kinds)';

/**
 * What lenient loading skipped. Strict loading throws the first DataError; lenient loading records
 * it here instead, so nothing is dropped without being counted and explained.
 */
export class SkipReport {
  skipped = 0;
  readonly byReason = new Map<string, number>();
  readonly examples: string[] = [];

  add(err: DataError): void {
    this.skipped++;
    this.count(`${err.field !== undefined ? `${err.field}: ` : ''}${err.problem.replace(/"[^"]*"/g, '"…"')}`, 1);
    if (this.examples.length < 5) this.examples.push(err.message);
  }

  merge(other: SkipReport): void {
    this.skipped += other.skipped;
    for (const [r, n] of other.byReason) this.count(r, n);
    for (const e of other.examples) if (this.examples.length < 5) this.examples.push(e);
  }

  /**
   * Values are masked out of the reasons, but a message that still varies per record must not grow
   * the report (it goes to stderr and into the bundle's manifest) with every skipped line.
   */
  private count(reason: string, n: number): void {
    const key = this.byReason.has(reason) || this.byReason.size < MAX_REASONS ? reason : OTHER_REASONS;
    this.byReason.set(key, (this.byReason.get(key) ?? 0) + n);
  }

  toJSON(): { skipped: number; byReason: Record<string, number>; examples: string[] } {
    return { skipped: this.skipped, byReason: Object.fromEntries(this.byReason), examples: this.examples };
  }
}

/**
 * How a loader reacts to a bad record: throw in strict mode, count it in lenient mode.
 * Returns normally only when the record should be skipped.
 */
export function rejectRecord(err: DataError, lenient: SkipReport | undefined): void {
  if (!lenient) throw err;
  lenient.add(err);
}
