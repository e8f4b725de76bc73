import type { EncodedCatalog } from '../data/catalog.js';
import { profileVector, rawRfm, type ProfileSpec } from '../model/profile.js';
import type { UserHistory } from '../data/history.js';
import { Rng } from '../util/rng.js';
import { kmeans, silhouette } from './kmeans.js';
import type { SegmentModel } from '../model/segments.js';

export interface SegmentParams {
  kMin: number;
  kMax: number;
  affinityDims: number;
  sample: number;
  seed: number;
}

export const DEFAULT_SEGMENTS: SegmentParams = { kMin: 2, kMax: 8, affinityDims: 12, sample: 1500, seed: 11 };

/** K-means over RFM and category affinity; k is the one with the best mean silhouette on a sample. */
export function trainSegments(
  histories: UserHistory[],
  catalog: EncodedCatalog,
  now: number,
  params: SegmentParams = DEFAULT_SEGMENTS,
): SegmentModel {
  const active = histories.map((h, u) => (h.items.length > 0 ? u : -1)).filter((u) => u >= 0);
  const useCategories = catalog.categoryNames.length > 1;
  const freq = new Map<number, number>();
  for (const u of active) {
    const h = histories[u];
    for (const i of h.items) {
      if (useCategories) {
        if (catalog.category[i] >= 0) freq.set(catalog.category[i], (freq.get(catalog.category[i]) ?? 0) + 1);
      } else {
        for (let a = catalog.attrIndptr[i]; a < catalog.attrIndptr[i + 1]; a++)
          freq.set(catalog.attrIds[a], (freq.get(catalog.attrIds[a]) ?? 0) + 1);
      }
    }
  }
  const affinityIds = [...freq.entries()]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, params.affinityDims)
    .map(([id]) => id);
  const mean = [0, 0, 0];
  const sq = [0, 0, 0];
  for (const u of active) {
    const r = rawRfm(histories[u], now);
    for (let k = 0; k < 3; k++) {
      mean[k] += r[k] / active.length;
      sq[k] += (r[k] * r[k]) / active.length;
    }
  }
  const std = mean.map((m, k) => Math.sqrt(Math.max(sq[k] - m * m, 0)) || 1);
  const spec: ProfileSpec = {
    affinityKind: useCategories ? 'category' : 'attribute',
    affinityIds,
    affinityNames: affinityIds.map((id) => (useCategories ? catalog.categoryNames[id] : catalog.attrNames[id])),
    rfmMean: mean,
    rfmStd: std,
    affinityWeight: 2,
  };

  const dim = 3 + affinityIds.length;
  const X = new Float64Array(active.length * dim);
  active.forEach((u, row) => profileVector(histories[u], now, catalog, spec, X, row * dim));

  const rng = new Rng(params.seed);
  const sampleIdx = rng
    .shuffle(active.map((_, r) => r))
    .slice(0, params.sample)
    .sort((a, b) => a - b);
  const silhouetteByK: Record<string, number> = {};
  let best: ReturnType<typeof kmeans> | undefined;
  let bestScore = -Infinity;
  for (let k = params.kMin; k <= Math.min(params.kMax, Math.max(params.kMin, active.length - 1)); k++) {
    const res = kmeans(X, active.length, dim, k, params.seed + k);
    const score = silhouette(X, dim, res.assignment, k, Int32Array.from(sampleIdx));
    silhouetteByK[k] = Number(score.toFixed(4));
    if (score > bestScore) {
      bestScore = score;
      best = res;
    }
  }
  if (!best) throw new Error('segments: no users with history to cluster');
  const assignment = new Int32Array(histories.length).fill(-1);
  active.forEach((u, row) => (assignment[u] = best!.assignment[row]));
  const centroids = Array.from({ length: best.k }, (_, c) =>
    Array.from(best!.centroids.subarray(c * dim, c * dim + dim)),
  );
  const sizes = centroids.map((_, c) => best!.assignment.reduce((n, a) => n + (a === c ? 1 : 0), 0));
  return {
    spec,
    k: best.k,
    centroids,
    silhouetteByK,
    criterion: `k in [${params.kMin}, ${params.kMax}] with the highest mean silhouette on a sample of ${Math.min(params.sample, active.length)} users`,
    labels: segmentLabels(centroids, sizes, spec),
    sizes,
    assignment,
  };
}

/**
 * Labels that tell segments apart: each says how its shoppers differ from the whole population
 * (recent or lapsed, frequent or occasional, high or low spend, the category they lean to most
 * against its overall share), then its centroid's recency, frequency and spend in plain units. Two
 * segments can favour one category in absolute terms (the most popular one, usually); what tells them
 * apart is where each sits above the average. A label that still repeats gets its segment number.
 */
export function segmentLabels(centroids: number[][], sizes: number[], spec: ProfileSpec): string[] {
  const total = sizes.reduce((a, b) => a + b, 0) || 1;
  const dim = centroids[0]?.length ?? 0;
  const overall = Array.from({ length: dim }, (_, j) =>
    centroids.reduce((acc, c, k) => acc + (c[j] * sizes[k]) / total, 0),
  );
  const labels = centroids.map((c) => describe(c, overall, spec));
  return labels.map((l, k) => (labels.indexOf(l) === k && labels.lastIndexOf(l) === k ? l : `${l} (segment ${k})`));
}

function describe(c: number[], overall: number[], spec: ProfileSpec): string {
  const [rec, freq, mon] = c.slice(0, 3).map((z, k) => z * spec.rfmStd[k] + spec.rfmMean[k]);
  const dz = c.slice(0, 3).map((z, k) => z - overall[k]);
  const spend = spec.rfmStd[2] > 0 && Math.expm1(mon) > 0;
  // Recency is log days since the last event: above the average means longer ago.
  const words = [
    dz[0] < -0.3 ? 'recent' : dz[0] > 0.3 ? 'lapsed' : '',
    dz[1] > 0.3 ? 'frequent' : dz[1] < -0.3 ? 'occasional' : '',
    spend && dz[2] > 0.3 ? 'high-spend' : spend && dz[2] < -0.3 ? 'low-spend' : '',
  ].filter(Boolean);
  let lean = -1;
  for (let j = 3; j < c.length; j++) if (c[j] - overall[j] > (lean < 0 ? 0 : c[lean] - overall[lean])) lean = j;
  const pct = (x: number): string => `${((100 * x) / spec.affinityWeight).toFixed(0)}%`;
  const leaning =
    lean >= 0
      ? `, leaning to ${spec.affinityNames[lean - 3]} (${pct(c[lean])} of their items vs ${pct(overall[lean])} overall)`
      : '';
  const figures = [
    `recency ${Math.max(0, Math.expm1(rec)).toFixed(0)}d`,
    `${Math.expm1(freq).toFixed(0)} events`,
    spend ? `spend ${Math.expm1(mon).toFixed(0)}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `${words.length > 0 ? words.join(', ') : 'typical'} shoppers${leaning} (${figures})`;
}
