import type { FieldReader } from '../fields.js';

/**
 * The line where each id of one file was first defined: a second definition would silently replace
 * the first (another title, another age), so it is refused as a bad record instead.
 */
export class FirstSeen {
  private readonly lines = new Map<string, number>();

  constructor(private readonly what: string) {}

  /** Fails the record when `id` was defined earlier in the file. */
  check(f: FieldReader, field: string, id: string): void {
    const seen = this.lines.get(id);
    if (seen !== undefined) f.fail(field, `duplicate ${this.what} id ${JSON.stringify(id)} (first on line ${seen})`);
  }

  /** Called once the record defining `id` was accepted whole. */
  record(id: string, line: number): void {
    this.lines.set(id, line);
  }
}
