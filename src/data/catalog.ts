import type { Item } from './types.js';

/** The catalogue in dense arrays, as features and filters need it (one copy shared by all requests). */
export interface EncodedCatalog {
  numItems: number;
  /** -1 where unknown. */
  category: Int32Array;
  categoryNames: string[];
  brand: Int32Array;
  brandNames: string[];
  /** NaN where unknown. */
  price: Float32Array;
  available: Uint8Array;
  attrIndptr: Int32Array;
  attrIds: Int32Array;
  attrNames: string[];
}

export function encodeCatalog(items: readonly Item[]): EncodedCatalog {
  const n = items.length;
  const vocab = (): { ids: Map<string, number>; names: string[]; of: (s: string | undefined) => number } => {
    const ids = new Map<string, number>();
    const names: string[] = [];
    return {
      ids,
      names,
      of: (s) => {
        if (s === undefined) return -1;
        let i = ids.get(s);
        if (i === undefined) {
          i = names.length;
          names.push(s);
          ids.set(s, i);
        }
        return i;
      },
    };
  };
  const cats = vocab();
  const brands = vocab();
  const attrs = vocab();
  const category = new Int32Array(n);
  const brand = new Int32Array(n);
  const price = new Float32Array(n);
  const available = new Uint8Array(n);
  const attrIndptr = new Int32Array(n + 1);
  const attrIds: number[] = [];
  items.forEach((it, i) => {
    category[i] = cats.of(it.category);
    brand[i] = brands.of(it.brand);
    price[i] = it.price ?? NaN;
    available[i] = it.available ? 1 : 0;
    for (const a of it.attributes) attrIds.push(attrs.of(a));
    attrIndptr[i + 1] = attrIds.length;
  });
  return {
    numItems: n,
    category,
    categoryNames: cats.names,
    brand,
    brandNames: brands.names,
    price,
    available,
    attrIndptr,
    attrIds: Int32Array.from(attrIds),
    attrNames: attrs.names,
  };
}
