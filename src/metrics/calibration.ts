/** One bin of a reliability curve: predictions in [lo, hi), their mean, and how often they were right. */
export interface ReliabilityBin {
  lo: number;
  hi: number;
  rows: number;
  meanPredicted: number;
  observedRate: number;
}

export interface Calibration {
  bins: ReliabilityBin[];
  /** Expected calibration error: the rows-weighted mean gap between predicted and observed. */
  ece: number;
}

/**
 * The reliability curve of probabilities against 0/1 labels, in `bins` equal-width bins (empty
 * bins left out), and the expected calibration error.
 */
export function calibration(prob: ArrayLike<number>, label: ArrayLike<number>, bins = 10): Calibration {
  const rows = new Float64Array(bins);
  const predicted = new Float64Array(bins);
  const observed = new Float64Array(bins);
  for (let i = 0; i < prob.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(prob[i] * bins)));
    rows[b]++;
    predicted[b] += prob[i];
    observed[b] += label[i] > 0.5 ? 1 : 0;
  }
  const out: ReliabilityBin[] = [];
  let gap = 0;
  for (let b = 0; b < bins; b++) {
    if (rows[b] === 0) continue;
    const bin = {
      lo: b / bins,
      hi: (b + 1) / bins,
      rows: rows[b],
      meanPredicted: predicted[b] / rows[b],
      observedRate: observed[b] / rows[b],
    };
    gap += rows[b] * Math.abs(bin.meanPredicted - bin.observedRate);
    out.push(bin);
  }
  return { bins: out, ece: prob.length > 0 ? gap / prob.length : NaN };
}
