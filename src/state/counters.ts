/**
 * Named counters of named fields (a promotion bandit's trials and successes per segment), in memory.
 * Bounded: past MAX_FIELDS fields in one counter, new fields are refused rather than let a client
 * grow the map without end.
 */
const MAX_COUNTERS = 10_000;
const MAX_FIELDS = 100_000;

export class Counters {
  private readonly byName = new Map<string, Map<string, number>>();

  increment(counter: string, deltas: Record<string, number>): void {
    let fields = this.byName.get(counter);
    if (!fields) {
      if (this.byName.size >= MAX_COUNTERS) throw new Error(`more than ${MAX_COUNTERS} counters`);
      this.byName.set(counter, (fields = new Map()));
    }
    for (const [field, d] of Object.entries(deltas)) {
      if (!fields.has(field) && fields.size >= MAX_FIELDS)
        throw new Error(`counter ${counter}: more than ${MAX_FIELDS} fields`);
      fields.set(field, (fields.get(field) ?? 0) + d);
    }
  }

  read(counter: string): Record<string, number> {
    return Object.fromEntries(this.byName.get(counter) ?? []);
  }

  /** Every counter with its totals (what a rewritten log holds). */
  *entries(): Generator<[string, Record<string, number>]> {
    for (const [name, fields] of this.byName) yield [name, Object.fromEntries(fields)];
  }
}
