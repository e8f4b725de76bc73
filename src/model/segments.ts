import type { ProfileSpec } from './profile.js';

export interface SegmentModel {
  spec: ProfileSpec;
  k: number;
  centroids: number[][];
  /** Silhouette for every k tried: the stated criterion for the chosen k. */
  silhouetteByK: Record<string, number>;
  criterion: string;
  /** Human-readable description of each segment. */
  labels: string[];
  sizes: number[];
  /** Segment of every training user (-1 for users without history). */
  assignment: Int32Array;
}

/**
 * The one clock segments and RFM are measured on, online (`profile`) and in batch (`batch-score
 * --segments`): the bundle's data end. Recency is the time from a shopper's last event to it (0 for
 * events streamed since), so a segment means what it meant in training however long ago that was,
 * and the same shopper gets the same segment from both.
 */
export function segmentClock(referenceTime: number): number {
  return referenceTime;
}

/** The nearest segment to a profile vector. */
export function assignSegment(model: Pick<SegmentModel, 'centroids'>, v: Float64Array): number {
  let best = -1;
  let bestD = Infinity;
  model.centroids.forEach((c, j) => {
    let d = 0;
    for (let f = 0; f < c.length; f++) d += (v[f] - c[f]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = j;
    }
  });
  return best;
}
