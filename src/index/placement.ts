import type { Item } from '../data/types.js';
import type { Steps } from '../util/steps.js';

/** Items indexed between two yields of AttributePlacer.steps (15-27 ms a step on the 100k-item bench bundle). */
const STEP = 5_000;

function tokensOf(it: Pick<Item, 'category' | 'brand' | 'attributes'>): string[] {
  const t: string[] = [];
  if (it.category !== undefined) t.push(`c:${it.category}`);
  if (it.brand !== undefined) t.push(`b:${it.brand}`);
  for (const a of it.attributes ?? []) t.push(`a:${a}`);
  return t;
}

/**
 * Places items the model never saw (cold start) in the embedding space by their attributes: the
 * average vector of known items, each weighted by the Jaccard overlap of category, brand and
 * attribute tokens. An item sharing nothing gets the catalogue's mean vector.
 */
export class AttributePlacer {
  private readonly index = new Map<string, number[]>();
  private readonly tokenCount: Int32Array;
  private readonly mean: Float32Array;

  private constructor(
    private readonly factors: Float32Array,
    private readonly d: number,
    n: number,
  ) {
    this.tokenCount = new Int32Array(n);
    this.mean = new Float32Array(d);
  }

  /** Made STEP items at a time (run it with runPaced). */
  static *steps(items: readonly Item[], factors: Float32Array, d: number): Steps<AttributePlacer> {
    const p = new AttributePlacer(factors, d, items.length);
    for (let i = 0; i < items.length; i++) {
      const toks = tokensOf(items[i]);
      p.tokenCount[i] = toks.length;
      for (const t of toks) {
        let list = p.index.get(t);
        if (!list) p.index.set(t, (list = []));
        list.push(i);
      }
      for (let k = 0; k < d; k++) p.mean[k] += factors[i * d + k] / items.length;
      if ((i + 1) % STEP === 0) yield;
    }
    return p;
  }

  place(item: Pick<Item, 'category' | 'brand' | 'attributes'>): { vector: Float32Array; basis: number } {
    const overlap = this.overlap(item);
    if (overlap.size === 0) return { vector: Float32Array.from(this.mean), basis: 0 };
    const v = new Float64Array(this.d);
    let total = 0;
    for (const [i, w] of overlap) {
      total += w;
      for (let k = 0; k < this.d; k++) v[k] += w * this.factors[i * this.d + k];
    }
    return { vector: Float32Array.from(v, (x) => x / total), basis: overlap.size };
  }

  /** The `k` known items whose tokens overlap the item's most (Jaccard; ties to the lower index). */
  peers(item: Pick<Item, 'category' | 'brand' | 'attributes'>, k: number): Int32Array {
    return Int32Array.from(
      [...this.overlap(item)]
        .sort((a, b) => b[1] - a[1] || a[0] - b[0])
        .slice(0, k)
        .map(([i]) => i),
    );
  }

  /** Known items sharing a token with the item, and the Jaccard overlap of their tokens. */
  private overlap(item: Pick<Item, 'category' | 'brand' | 'attributes'>): Map<number, number> {
    const toks = [...new Set(tokensOf(item))];
    const shared = new Map<number, number>();
    for (const t of toks) for (const i of this.index.get(t) ?? []) shared.set(i, (shared.get(i) ?? 0) + 1);
    for (const [i, s] of shared) shared.set(i, s / (toks.length + this.tokenCount[i] - s));
    return shared;
  }
}
