import { Rng } from '../util/rng.js';

export interface KMeansResult {
  k: number;
  /** k × dim, row-major. */
  centroids: Float64Array;
  assignment: Int32Array;
  inertia: number;
}

function sqDist(x: Float64Array, xo: number, c: Float64Array, co: number, dim: number): number {
  let s = 0;
  for (let f = 0; f < dim; f++) {
    const t = x[xo + f] - c[co + f];
    s += t * t;
  }
  return s;
}

export function nearestCentroid(centroids: Float64Array, k: number, x: Float64Array, xo: number, dim: number): number {
  let best = 0;
  let bestD = Infinity;
  for (let c = 0; c < k; c++) {
    const dd = sqDist(x, xo, centroids, c * dim, dim);
    if (dd < bestD) {
      bestD = dd;
      best = c;
    }
  }
  return best;
}

/** Lloyd's k-means with k-means++ seeding; deterministic for a seed. */
export function kmeans(x: Float64Array, n: number, dim: number, k: number, seed: number, maxIter = 100): KMeansResult {
  const rng = new Rng(seed);
  const centroids = new Float64Array(k * dim);
  const first = rng.int(n);
  centroids.set(x.subarray(first * dim, first * dim + dim), 0);
  const d2 = new Float64Array(n).fill(Infinity);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      d2[i] = Math.min(d2[i], sqDist(x, i * dim, centroids, (c - 1) * dim, dim));
      total += d2[i];
    }
    let r = rng.next() * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= d2[i];
      if (r <= 0) {
        pick = i;
        break;
      }
    }
    centroids.set(x.subarray(pick * dim, pick * dim + dim), c * dim);
  }
  const assignment = new Int32Array(n).fill(-1);
  const sums = new Float64Array(k * dim);
  const counts = new Float64Array(k);
  let inertia = 0;
  for (let iter = 0; iter < maxIter; iter++) {
    let changed = 0;
    inertia = 0;
    for (let i = 0; i < n; i++) {
      const c = nearestCentroid(centroids, k, x, i * dim, dim);
      inertia += sqDist(x, i * dim, centroids, c * dim, dim);
      if (c !== assignment[i]) {
        assignment[i] = c;
        changed++;
      }
    }
    if (changed === 0) break;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assignment[i];
      counts[c]++;
      for (let f = 0; f < dim; f++) sums[c * dim + f] += x[i * dim + f];
    }
    for (let c = 0; c < k; c++) {
      // An emptied cluster keeps its centroid rather than collapsing to NaN.
      if (counts[c] === 0) continue;
      for (let f = 0; f < dim; f++) centroids[c * dim + f] = sums[c * dim + f] / counts[c];
    }
  }
  return { k, centroids, assignment, inertia };
}

/** Mean silhouette over (a sample of) the points: the criterion that picks the number of segments. */
export function silhouette(
  x: Float64Array,
  dim: number,
  assignment: Int32Array,
  k: number,
  sample: Int32Array,
): number {
  let total = 0;
  let counted = 0;
  const sum = new Float64Array(k);
  const cnt = new Float64Array(k);
  for (const i of sample) {
    sum.fill(0);
    cnt.fill(0);
    for (const j of sample) {
      if (i === j) continue;
      sum[assignment[j]] += Math.sqrt(sqDist(x, i * dim, x, j * dim, dim));
      cnt[assignment[j]]++;
    }
    const own = assignment[i];
    if (cnt[own] === 0) continue;
    const a = sum[own] / cnt[own];
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own && cnt[c] > 0) b = Math.min(b, sum[c] / cnt[c]);
    if (!Number.isFinite(b)) continue;
    total += (b - a) / Math.max(a, b);
    counted++;
  }
  return counted > 0 ? total / counted : 0;
}
