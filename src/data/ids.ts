import { runAtOnce, type Steps } from '../util/steps.js';

/** Ids interned between two yields of IdMap.steps (9-17 ms a step on the 100k-item bench bundle). */
const STEP = 25_000;

/**
 * String ids outside, dense integers inside: every model, index and kernel works on 0..n-1, and
 * this is the one place that translates.
 */
export class IdMap {
  private readonly toIndex = new Map<string, number>();
  private readonly ids: string[] = [];

  static from(ids: Iterable<string>): IdMap {
    return runAtOnce(IdMap.steps(ids));
  }

  /** The same, STEP ids at a time (see runPaced). */
  static *steps(ids: Iterable<string>): Steps<IdMap> {
    const m = new IdMap();
    let n = 0;
    for (const id of ids) {
      m.intern(id);
      if (++n % STEP === 0) yield;
    }
    return m;
  }

  get size(): number {
    return this.ids.length;
  }

  /** The index of `id`, adding it when new. */
  intern(id: string): number {
    let i = this.toIndex.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.ids.push(id);
      this.toIndex.set(id, i);
    }
    return i;
  }

  /** The index of `id`, or -1 when unknown. */
  indexOf(id: string): number {
    return this.toIndex.get(id) ?? -1;
  }

  has(id: string): boolean {
    return this.toIndex.has(id);
  }

  idAt(index: number): string {
    const id = this.ids[index];
    if (id === undefined) throw new RangeError(`no id at index ${index} (size ${this.ids.length})`);
    return id;
  }

  list(): readonly string[] {
    return this.ids;
  }
}
