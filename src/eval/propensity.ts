import type { Dataset } from '../data/dataset.js';
import { eventTypeCode } from '../data/types.js';
import { type Calibration, calibration } from '../metrics/calibration.js';
import { type ClassificationMetrics, classificationMetrics } from '../metrics/classification.js';
import type { LabelledRows } from '../rank/labelled-rows.js';

/**
 * The ranker's probability read as a purchase propensity (what `batch-score --propensity` writes):
 * judged against purchases where the data records them, else against any interaction, and said
 * so; with its reliability curve. The rows are the test candidates with sampled negatives, so the
 * observed rates are those of that sample, not of the whole catalogue.
 */
export interface PropensityReport {
  label: 'purchase' | 'interaction';
  note: string;
  metrics: ClassificationMetrics;
  calibration: Calibration;
  /** The same curve against any test interaction: the label the ranker is trained on. */
  interactionCalibration: Calibration;
}

export function propensityReport(
  prob: Float32Array,
  rows: LabelledRows,
  ds: Dataset,
  testEvents: Int32Array,
  threshold: number,
): PropensityReport {
  const purchase = eventTypeCode('purchase');
  const bought = new Set<number>();
  const e = ds.events;
  for (const j of testEvents) if (e.type[j] === purchase) bought.add(e.user[j] * ds.numItems + e.item[j]);
  const interaction = calibration(prob, rows.y);
  if (bought.size === 0)
    return {
      label: 'interaction',
      note: 'no purchase events in this data: judged against any held-out interaction',
      metrics: classificationMetrics(prob, rows.y, threshold),
      calibration: interaction,
      interactionCalibration: interaction,
    };
  const y = Float32Array.from(rows.group, (u, r) => (bought.has(u * ds.numItems + rows.item[r]) ? 1 : 0));
  return {
    label: 'purchase',
    note: `a positive is a purchase in the test period (${bought.size} user-item pairs); the ranker is trained on any interaction`,
    metrics: classificationMetrics(prob, y, threshold),
    calibration: calibration(prob, y),
    interactionCalibration: interaction,
  };
}
