import type { Dataset } from '../data/dataset.js';
import { type Calibration, calibration } from '../metrics/calibration.js';
import { type ClassificationMetrics, classificationMetrics } from '../metrics/classification.js';
import { type LabelledRows, purchaseLabels } from '../rank/labelled-rows.js';
import { OnnxRanker } from '../rank/onnx-ranker.js';

/**
 * The propensity `batch-score --propensity` writes (the bundle's purchase-labelled model, else the
 * ranker's probability), judged against purchases where the data records them, else against any
 * interaction, and said so; with its reliability curve. The rows are the test candidates with sampled negatives, so the
 * observed rates are those of that sample, not of the whole catalogue.
 */
export interface PropensityReport {
  label: 'purchase' | 'interaction';
  /** What produced the probabilities: the bundle's purchase-labelled model, or the ranker. */
  model: 'purchase model' | 'ranker';
  note: string;
  metrics: ClassificationMetrics;
  calibration: Calibration;
  /** The same curve against any test interaction: the label the ranker is trained on. */
  interactionCalibration: Calibration;
}

export async function propensityReport(
  rankerProb: Float32Array,
  rows: LabelledRows,
  ds: Dataset,
  testEvents: Int32Array,
  threshold: number,
  propensityOnnx?: Uint8Array,
): Promise<PropensityReport> {
  const session = propensityOnnx ? await OnnxRanker.create(propensityOnnx, rows.width) : undefined;
  const prob = session ? await session.score(rows.X, rows.y.length) : rankerProb;
  await session?.release();
  const model = session ? 'purchase model' : 'ranker';
  const { y, pairs } = purchaseLabels(rows, ds, testEvents);
  const interaction = calibration(prob, rows.y);
  if (pairs === 0)
    return {
      label: 'interaction',
      model,
      note: 'no purchase events in this data: judged against any held-out interaction',
      metrics: classificationMetrics(prob, rows.y, threshold),
      calibration: interaction,
      interactionCalibration: interaction,
    };
  return {
    label: 'purchase',
    model,
    note: `a positive is a purchase in the test period (${pairs} user-item pairs); ${session ? "the bundle's purchase-labelled model" : 'the ranker, trained on any interaction'}`,
    metrics: classificationMetrics(prob, y, threshold),
    calibration: calibration(prob, y),
    interactionCalibration: interaction,
  };
}
