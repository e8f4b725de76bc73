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
    labels: centroids.map((c) => describe(c, spec)),
    sizes,
    assignment,
  };
}

function describe(c: number[], spec: ProfileSpec): string {
  const [rec, freq, mon] = c.slice(0, 3).map((z, k) => z * spec.rfmStd[k] + spec.rfmMean[k]);
  const level = (z: number): string => (z > 0.5 ? 'high' : z < -0.5 ? 'low' : 'mid');
  let top = -1;
  for (let j = 3; j < c.length; j++) if (top < 0 || c[j] > c[top]) top = j;
  const parts = [
    `recency ${Math.expm1(rec).toFixed(0)}d`,
    `${level(c[1])} frequency (${Math.expm1(freq).toFixed(0)} events)`,
    spec.rfmStd[2] > 0 && Math.expm1(mon) > 0 ? `${level(c[2])} spend (${Math.expm1(mon).toFixed(0)})` : '',
    top >= 0 && c[top] > 0
      ? `favours ${spec.affinityNames[top - 3]} (${((100 * c[top]) / spec.affinityWeight).toFixed(0)}%)`
      : '',
  ];
  return parts.filter(Boolean).join(', ');
}
