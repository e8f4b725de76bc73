import type { Filters } from '../protocol/calls.js';
import type { RecModel } from './model.js';

export interface RequestMask {
  /** One byte per catalogue item; nonzero = excluded. */
  mask: Uint8Array;
  /** Returns the mask for reuse; call once the request is done with it. */
  release: () => void;
}

/**
 * Exclusion masks for requests: what the filters rule out, for one request alone. Masks are zeroed
 * and reused; one per request in flight, since a worker interleaves requests at the ranker's await
 * and a request must never share its mask with another.
 */
export class ExclusionMasks {
  private readonly free: Uint8Array[] = [];
  private readonly unavailable: Uint8Array;

  constructor(private readonly model: RecModel) {
    this.unavailable = Uint8Array.from(model.catalog.available, (a) => (a ? 0 : 1));
  }

  /** `seen`: the shopper's items (excluded when `excludeSeen`); `also`: items excluded whatever the filters. */
  apply(f: Filters, seen: ArrayLike<number>, also: ArrayLike<number> = []): RequestMask {
    const m = this.model;
    const n = m.catalog.numItems;
    const mask = this.free.pop() ?? new Uint8Array(n);
    if (f.availableOnly) mask.set(this.unavailable);
    if (f.categories !== undefined || f.priceMin !== undefined || f.priceMax !== undefined) {
      // An unknown name matches nothing (not the uncategorised items, whose index is also -1).
      const cats = f.categories
        ? new Set(f.categories.map((c) => m.catalog.categoryNames.indexOf(c)).filter((c) => c >= 0))
        : undefined;
      for (let i = 0; i < n; i++) {
        if (cats && !cats.has(m.catalog.category[i])) mask[i] = 1;
        const p = m.catalog.price[i];
        if (f.priceMin !== undefined && !(p >= f.priceMin)) mask[i] = 1;
        if (f.priceMax !== undefined && !(p <= f.priceMax)) mask[i] = 1;
      }
    }
    if (f.excludeSeen) for (let j = 0; j < seen.length; j++) mask[seen[j]] = 1;
    for (const id of f.exclude ?? []) {
      const i = m.itemIndex.indexOf(id);
      if (i >= 0) mask[i] = 1;
    }
    for (let j = 0; j < also.length; j++) mask[also[j]] = 1;
    const release = (): void => {
      mask.fill(0);
      this.free.push(mask);
    };
    return { mask, release };
  }
}

/** Whether the filters exclude much of the catalogue (a category or a price range), so retrieval searches with the mask. */
export function isDense(f: Filters): boolean {
  return f.categories !== undefined || f.priceMin !== undefined || f.priceMax !== undefined;
}
