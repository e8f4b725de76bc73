import type { Dataset } from '../data/dataset.js';
import { type LabelledRows, purchaseLabels } from '../rank/labelled-rows.js';
import { note } from '../util/progress.js';
import { checkExport, exportRankerOnnx } from './onnx-export.js';
import { type RankerParams, trainRanker } from './ranker.js';

/** Fewer purchases than this among the ranker's rows: too few to learn a separate model from. */
const MIN_PURCHASES = 50;

export interface TrainedPropensity {
  onnx: Uint8Array;
  /** Rows and the purchases among them. */
  rows: number;
  positives: number;
  /** The network's hidden widths (not the ranker's: see PROPENSITY_HIDDEN). */
  hidden: number[];
  onnxMaxAbsDiff: number;
}

/**
 * The propensity network's hidden widths: the ranker's old 64 → 32, which is calibrated (calibration
 * error 0.0006 on the small synthetic shop). The ranker's wider default buys ranking order, not
 * calibration, and would double this model's training time.
 */
export const PROPENSITY_HIDDEN: readonly number[] = [64, 32];

/**
 * A purchase propensity: the ranker's training setup, features and rows, with a row positive only when
 * the shopper bought the item in the validation period (the ranker's rows count any interaction,
 * which overstates purchases about tenfold on the synthetic shop). Undefined when the data records
 * too few purchases there; `batch-score --propensity` then uses the ranker, and says so.
 */
export async function trainPropensity(
  rows: LabelledRows,
  names: string[],
  ds: Dataset,
  validationEvents: Int32Array,
  params: RankerParams,
): Promise<TrainedPropensity | undefined> {
  const { y } = purchaseLabels(rows, ds, validationEvents);
  const positives = y.reduce((s, v) => s + v, 0);
  if (positives < MIN_PURCHASES) {
    note(
      `propensity: ${positives} purchases among the ranker's rows (fewer than ${MIN_PURCHASES}): the ranker's probability serves`,
    );
    return undefined;
  }
  const model = await trainRanker(
    { X: rows.X, y, group: rows.group, width: rows.width, featureNames: names },
    { ...params, hidden: [...PROPENSITY_HIDDEN] },
  );
  const onnx = exportRankerOnnx(model);
  const onnxMaxAbsDiff = await checkExport(onnx, model);
  if (!(onnxMaxAbsDiff <= 1e-4))
    throw new Error(`exported ONNX propensity model differs from the trainer by ${onnxMaxAbsDiff} (> 1e-4)`);
  note(
    `propensity: trained on ${y.length} rows, ${positives} purchases; ONNX max abs difference ${onnxMaxAbsDiff.toExponential(2)}`,
  );
  const hidden = model.layers.slice(0, -1).map((l) => l.outDim);
  return { onnx, rows: y.length, positives, hidden, onnxMaxAbsDiff };
}
