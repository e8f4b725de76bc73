import type { EncodedCatalog } from '../data/catalog.js';
import type { UserHistory } from '../data/history.js';

/**
 * The per-user vector segments are built on: RFM (recency, frequency, monetary) plus the user's
 * shares of the top categories (or top attributes when the catalogue has no categories). Training
 * and the online `profile` call both use `profileVector`.
 */
export interface ProfileSpec {
  affinityKind: 'category' | 'attribute';
  /** Category or attribute ids, one affinity dimension each. */
  affinityIds: number[];
  affinityNames: string[];
  /** Standardisation of the three RFM dimensions. */
  rfmMean: number[];
  rfmStd: number[];
  /** Weight of the affinity shares against the standardised RFM values. */
  affinityWeight: number;
}

/** log(1 + days since the last event) (a year for a shopper without one), log(1 + events), log(1 + spend). */
export function rawRfm(h: UserHistory, now: number): [number, number, number] {
  const days = Number.isFinite(h.lastEventTime) ? Math.max(0, now - h.lastEventTime) / 86400 : 365;
  return [Math.log1p(days), Math.log1p(h.events), Math.log1p(h.spend)];
}

export function affinityShares(
  h: UserHistory,
  catalog: EncodedCatalog,
  spec: Pick<ProfileSpec, 'affinityKind' | 'affinityIds'>,
): number[] {
  const slot = new Map(spec.affinityIds.map((id, j) => [id, j]));
  const shares = new Array<number>(spec.affinityIds.length).fill(0);
  const n = h.items.length;
  if (n === 0) return shares;
  for (let q = 0; q < n; q++) {
    const i = h.items[q];
    if (spec.affinityKind === 'category') {
      const j = slot.get(catalog.category[i]);
      if (j !== undefined) shares[j] += 1 / n;
    } else {
      for (let a = catalog.attrIndptr[i]; a < catalog.attrIndptr[i + 1]; a++) {
        const j = slot.get(catalog.attrIds[a]);
        if (j !== undefined) shares[j] += 1 / n;
      }
    }
  }
  return shares;
}

/** The standardised vector k-means sees, written into `out` at `offset`. */
export function profileVector(
  h: UserHistory,
  now: number,
  catalog: EncodedCatalog,
  spec: ProfileSpec,
  out = new Float64Array(3 + spec.affinityIds.length),
  offset = 0,
): Float64Array {
  const rfm = rawRfm(h, now);
  for (let k = 0; k < 3; k++) out[offset + k] = (rfm[k] - spec.rfmMean[k]) / spec.rfmStd[k];
  const shares = affinityShares(h, catalog, spec);
  for (let j = 0; j < shares.length; j++) out[offset + 3 + j] = spec.affinityWeight * shares[j];
  return out;
}

/**
 * The shopper's own affinities: the share of their items in each category (attribute, when the
 * catalogue has no categories) they touched, largest first. Unlike the segment vector's, which only
 * has dimensions for the categories most common overall, this covers whatever the shopper likes.
 */
export function ownAffinities(
  h: UserHistory,
  catalog: EncodedCatalog,
  kind: ProfileSpec['affinityKind'],
  top = 5,
): { name: string; share: number }[] {
  const counts = new Map<number, number>();
  const n = h.items.length;
  for (let q = 0; q < n; q++) {
    const i = h.items[q];
    if (kind === 'category') {
      if (catalog.category[i] >= 0) counts.set(catalog.category[i], (counts.get(catalog.category[i]) ?? 0) + 1);
    } else {
      for (let a = catalog.attrIndptr[i]; a < catalog.attrIndptr[i + 1]; a++)
        counts.set(catalog.attrIds[a], (counts.get(catalog.attrIds[a]) ?? 0) + 1);
    }
  }
  const names = kind === 'category' ? catalog.categoryNames : catalog.attrNames;
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || names[a[0]].localeCompare(names[b[0]]))
    .slice(0, top)
    .map(([id, c]) => ({ name: names[id], share: c / n }));
}
