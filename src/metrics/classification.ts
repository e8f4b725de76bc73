export interface ClassificationMetrics {
  rows: number;
  positives: number;
  auc: number;
  logLoss: number;
  threshold: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
}

/** AUC (rank-sum, ties averaged), log-loss, and accuracy/precision/recall/F1 at `threshold`. */
export function classificationMetrics(
  prob: ArrayLike<number>,
  label: ArrayLike<number>,
  threshold = 0.5,
): ClassificationMetrics {
  const n = prob.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => prob[a] - prob[b]);
  let pos = 0;
  let rankSum = 0;
  for (let s = 0; s < n; ) {
    let e = s;
    while (e + 1 < n && prob[order[e + 1]] === prob[order[s]]) e++;
    const avgRank = (s + e) / 2 + 1;
    for (let j = s; j <= e; j++) if (label[order[j]] > 0.5) rankSum += avgRank;
    s = e + 1;
  }
  let logLoss = 0;
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < n; i++) {
    const y = label[i] > 0.5 ? 1 : 0;
    pos += y;
    const p = Math.min(Math.max(prob[i], 1e-7), 1 - 1e-7);
    logLoss -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
    const predicted = prob[i] >= threshold;
    if (predicted && y) tp++;
    else if (predicted) fp++;
    else if (y) fn++;
    else tn++;
  }
  const neg = n - pos;
  // Undefined (no predicted or no actual positives) is NaN, shown as "-": a 0 would read as all wrong.
  const precision = tp + fp > 0 ? tp / (tp + fp) : NaN;
  const recall = tp + fn > 0 ? tp / (tp + fn) : NaN;
  return {
    rows: n,
    positives: pos,
    auc: pos > 0 && neg > 0 ? (rankSum - (pos * (pos + 1)) / 2) / (pos * neg) : NaN,
    logLoss: n > 0 ? logLoss / n : NaN,
    threshold,
    accuracy: n > 0 ? (tp + tn) / n : NaN,
    precision,
    recall,
    f1:
      Number.isNaN(precision) || Number.isNaN(recall)
        ? NaN
        : precision + recall > 0
          ? (2 * precision * recall) / (precision + recall)
          : 0,
  };
}
