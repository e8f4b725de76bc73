/** Problems with input data, always naming where they are so a user can fix the file. */
export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string | undefined,
    readonly problem: string,
  ) {
    super(`${file}${line > 0 ? `:${line}` : ''}: ${field !== undefined ? `field "${field}": ` : ''}${problem}`);
    this.name = 'DataError';
  }
}

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
    const reason = `${err.field !== undefined ? `${err.field}: ` : ''}${err.problem.replace(/"[^"]*"/g, '"…"')}`;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    if (this.examples.length < 5) this.examples.push(err.message);
  }

  merge(other: SkipReport): void {
    this.skipped += other.skipped;
    for (const [r, n] of other.byReason) this.byReason.set(r, (this.byReason.get(r) ?? 0) + n);
    for (const e of other.examples) if (this.examples.length < 5) this.examples.push(e);
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
