import { VitrineError } from '../protocol/errors.js';
import type { BundleData } from '../bundle/model.js';
import type { Dataset } from '../data/dataset.js';
import { datasetFingerprint } from '../data/fingerprint.js';
import { buildUserItems, itemsOf, type UserItems } from '../data/interactions.js';
import { splitWithValidation } from '../data/split.js';
import type { RecModel } from '../rank/model.js';
import { easeScores, type EaseFitter, type EaseModel, type FittedEase } from '../model/ease.js';
import { knnScores } from '../model/knn.js';
import { labelledRows, type LabelledRows } from '../rank/labelled-rows.js';
import { type PropensityReport, propensityReport } from './propensity.js';
import { embeddingRecommender } from '../model/embeddings.js';
import { note, StageTimer, warn } from '../util/progress.js';
import { topK } from '../util/topk.js';
import { classificationMetrics, type ClassificationMetrics } from '../metrics/classification.js';
import {
  type AnyRecommender,
  type EvalRun,
  type ModelReport,
  rankModel,
  readTruth,
  storedVector,
  TWO_STAGE,
  twoStageRecommender,
} from './rank-models.js';
import { type RepeatsReport, repeatsProtocol } from './repeats.js';

/**
 * Evaluation fits EASE for the report up to this size only: the fit holds ~20 bytes per item pair
 * (5 GB at 16,000 items) and its inversion grows with n³ (measured: 146 s at Beauty's 12,101 items
 * on 2 cores; extrapolated: ~6 minutes here, and 200 GB and about a day at 100k items).
 */
export const EASE_FIT_MAX_ITEMS = 16_000;

export interface EvaluateOptions {
  /** A number, or 'auto': tuned on the validation slice for catalogues up to 3,000 items, else 100. */
  easeLambda: number | 'auto';
  /** Fit EASE for the report only up to this many items (a bundle's stored EASE is always used). */
  easeFitMaxItems: number;
  /** Decision threshold for the ranker's accuracy, precision, recall and F1. */
  threshold: number;
  negativesPerPositive: number;
  seed: number;
  /** `repeats`: also the variant where repeats count, reported beside the standard protocol. */
  protocol: 'standard' | 'repeats';
}

/** What `vitrine evaluate` and train's closing evaluation run with unless told otherwise. */
export function defaultEvaluateOptions(seed: number): EvaluateOptions {
  return {
    easeLambda: 'auto',
    easeFitMaxItems: EASE_FIT_MAX_ITEMS,
    threshold: 0.5,
    negativesPerPositive: 20,
    seed,
    protocol: 'standard',
  };
}

/** Where the report's EASE came from; 'skipped' for a catalogue over the fit limit (no EASE row). */
export type EaseSource = 'bundle' | 'fit for this evaluation' | 'skipped';

export interface EvaluationReport {
  bundle: { dir: string; version: string };
  data: { format: string; path: string; events: number; users: number; items: number };
  split: { trainEvents: number; testEvents: number; testUsersCounted: number };
  protocol: string;
  models: Record<string, ModelReport>;
  /** `lambda` is null and `chosenBy` says why when EASE was skipped. */
  ease: { lambda: number | null; chosenBy: string; validation?: Record<string, number>; source: EaseSource };
  retrieval: {
    candidates: number;
    knnCandidates: number;
    followCandidates: number;
    chainCandidates: number;
    attributeCandidates: number;
    efSearch: number;
    /** Recall@candidates (Recall@200 by default) of HNSW retrieval alone, on the protocol's test items. */
    hnswRecallAtCandidates: number;
    /** Test items among the ranker's whole candidate list (every source's), over the ranker's test rows. */
    'recall@candidates': number;
    /** The same, per source: the test items each source added to the list. */
    recallBySource: Record<string, number>;
    hnswRecallAt200VsExact: number;
  };
  ranker: ClassificationMetrics & { negativesPerPositive: number };
  propensity: PropensityReport;
  /** With `--protocol repeats`: the same models where coming back to an item counts. */
  repeats?: RepeatsReport;
  /** NaN (null in the JSON) when EASE was skipped or its NDCG@10 is undefined. */
  twoStageVsEase: number;
  timings: Record<string, number>;
}

/**
 * The quality protocol over a bundle: baselines (popularity, item-kNN, EASE) and the bundle's own
 * models (embeddings alone, HNSW retrieval alone, HNSW retrieval + ranker) on the same split, plus
 * the ranker as a classifier on held-out candidates.
 */
export async function evaluateBundle(
  model: RecModel,
  ds: Dataset,
  opts: EvaluateOptions,
  fitEase?: EaseFitter,
): Promise<EvaluationReport> {
  const data = model.data;
  const m = data.manifest;
  checkEvaluable(data, ds);
  const split = splitWithValidation(ds.events);
  const ctx: EvalRun = {
    ds,
    train: data.history.ui,
    test: buildUserItems(ds.events, split.test, ds.numUsers, ds.numItems),
    truth: readTruth(ds),
    timer: new StageTimer(),
    models: {},
  };
  const { train, test, timer, models } = ctx;
  const now = m.data.referenceTime;
  const run = (name: string, rec: AnyRecommender, deep?: number): Promise<void> => rankModel(ctx, name, rec, deep);

  const pop = data.popularity.count;
  await run('popularity', (_u, k, ex) => topK(pop, k, ex));
  const scratch = new Float32Array(ds.numItems);
  await run(`item-knn (k=${data.knn.k})`, (u, k, ex) => topK(knnScores(data.knn, itemsOf(train, u), scratch), k, ex));
  const { report: easeReport, name: easeName, model: ease } = await evaluateEase(ctx, data, split, opts, fitEase);

  await run('embeddings (exact)', embeddingRecommender({ ...data.als, numItems: ds.numItems }));
  const { candidates, knnCandidates, followCandidates, chainCandidates, attributeCandidates } = data.retrieval;
  await run(
    'hnsw retrieval alone',
    (u, k, ex) => {
      const v = storedVector(data, u);
      return v ? model.hnsw.search(v, k, ex).items : new Int32Array(0);
    },
    candidates,
  );
  await run(TWO_STAGE, twoStageRecommender(model, data.history, now));

  const { rows, probs, classification } = await timer.run('ranker classification', () =>
    rankerClassification(model, test, now, opts),
  );
  const propensity = await propensityReport(probs, rows, ds, split.test, opts.threshold, data.propensityOnnx);

  const twoStage = models[TWO_STAGE];
  if (twoStage.users === 0) {
    warn(
      `no test user has a test item outside their train history (${(100 * twoStage.repeatShare).toFixed(1)}% of test interactions repeat a train item, which the protocol does not count): the ranking metrics are undefined`,
    );
  }
  return {
    bundle: { dir: data.dir, version: m.version },
    data: {
      format: ds.source.format,
      path: ds.source.path,
      events: ds.numEvents,
      users: ds.numUsers,
      items: ds.numItems,
    },
    split: { trainEvents: split.train.length, testEvents: split.test.length, testUsersCounted: twoStage.users },
    protocol:
      'per-user temporal split, last 20% (rounded, >= 1) as test; whole catalogue minus train items ranked; test items already in train not counted; means over users with >= 1 counted test item',
    models,
    ease: easeReport,
    retrieval: {
      candidates,
      knnCandidates,
      followCandidates,
      chainCandidates,
      attributeCandidates,
      efSearch: data.hnsw.efSearch,
      hnswRecallAtCandidates: Number((models['hnsw retrieval alone'].deepRecall?.recall ?? NaN).toFixed(4)),
      'recall@candidates': Number(rows.candidateRecall.toFixed(4)),
      recallBySource: Object.fromEntries(
        Object.entries(rows.candidateRecallBySource).map(([s, v]) => [s, Number(v.toFixed(4))]),
      ),
      hnswRecallAt200VsExact: data.hnsw.recallAt200,
    },
    ranker: { ...classification, negativesPerPositive: opts.negativesPerPositive },
    propensity,
    ...(opts.protocol === 'repeats' && {
      repeats: await timer.run('repeats protocol', () => repeatsProtocol(ctx, model, now, ease)),
    }),
    twoStageVsEase: easeName ? Number((twoStage['ndcg@10'] / models[easeName]['ndcg@10']).toFixed(4)) : NaN,
    timings: timer.timings,
  };
}

/** A bundle can be evaluated only on the data it was trained on, with the protocol's test split held out. */
function checkEvaluable(data: BundleData, ds: Dataset): void {
  const m = data.manifest;
  if (m.data.holdout !== 'protocol') {
    throw new VitrineError(
      'invalid_argument',
      `bundle ${data.dir} was trained on every event (--holdout none); evaluation needs a bundle trained with --holdout protocol`,
    );
  }
  const fp = datasetFingerprint(ds);
  if (fp !== m.data.fingerprint) {
    throw new VitrineError(
      'invalid_argument',
      `the data at ${ds.source.path} is not the data bundle ${m.version} was trained on (fingerprint ${fp.slice(0, 12)}… vs ${m.data.fingerprint.slice(0, 12)}…)`,
    );
  }
}

/** The ranker as a classifier: held-out test items among their candidates, against sampled negatives. */
async function rankerClassification(
  model: RecModel,
  test: UserItems,
  now: number,
  opts: EvaluateOptions,
): Promise<{ rows: LabelledRows; probs: Float32Array; classification: ClassificationMetrics }> {
  const data = model.data;
  const stage = {
    hnsw: model.hnsw,
    graphs: model.graphs,
    features: model.features,
    factors: data.als.factors,
    userFactors: data.als.userFactors,
    histories: data.history,
    users: data.users,
    retrieval: data.retrieval,
  };
  const rows = labelledRows(stage, test, now, opts.negativesPerPositive, opts.seed, 'ranker rows (test)');
  const probs = await model.ranker.score(rows.X, rows.y.length);
  return { rows, probs, classification: classificationMetrics(probs, rows.y, opts.threshold) };
}

/** The EASE baseline's row (from the bundle, or fit now), or why it was skipped. */
async function evaluateEase(
  ctx: EvalRun,
  data: BundleData,
  split: ReturnType<typeof splitWithValidation>,
  opts: EvaluateOptions,
  fitEase: EaseFitter | undefined,
): Promise<{ report: EvaluationReport['ease']; name?: string; model?: EaseModel }> {
  const { ds } = ctx;
  const fromBundle = data.ease !== undefined && (opts.easeLambda === 'auto' || opts.easeLambda === data.ease.lambda);
  const tooLarge = !data.ease && ds.numItems > opts.easeFitMaxItems;
  if (!fromBundle && (tooLarge || !fitEase)) {
    const why = tooLarge
      ? `${ds.numItems} items is over the EASE fit limit of ${opts.easeFitMaxItems} (memory grows with items², time with items³; vitrine evaluate --ease-fit-max-items raises it)`
      : 'the bundle holds no EASE with that lambda and no EASE fitter was given';
    warn(`EASE skipped: ${why}`);
    return { report: { lambda: null, chosenBy: why, source: 'skipped' } };
  }
  const ease = await ctx.timer.run('ease', () => baselineEase(data, ds, split, opts.easeLambda, fitEase));
  const name = `ease (lambda=${ease.model.lambda})`;
  note(
    `  EASE from the ${ease.source === 'bundle' ? 'bundle' : 'data (fit now)'}: lambda ${ease.model.lambda}, ${ease.chosenBy}`,
  );
  const scratch = new Float32Array(ds.numItems);
  await rankModel(ctx, name, (u, k, ex) => topK(easeScores(ease.model, itemsOf(ctx.train, u), scratch), k, ex));
  return {
    report: { lambda: ease.model.lambda, chosenBy: ease.chosenBy, validation: ease.validation, source: ease.source },
    name,
    model: ease.model,
  };
}

/** The bundle's EASE when it has one fit with the asked-for λ; else one fit now on the same split. */
async function baselineEase(
  data: BundleData,
  ds: Dataset,
  split: ReturnType<typeof splitWithValidation>,
  lambda: number | 'auto',
  fitEase: EaseFitter | undefined,
): Promise<FittedEase & { source: EaseSource }> {
  if (data.ease && (lambda === 'auto' || lambda === data.ease.lambda))
    return { model: data.ease, chosenBy: data.ease.chosenBy, validation: data.ease.validation, source: 'bundle' };
  if (!fitEase) throw new Error('baselineEase: no fitter (the caller checks)');
  const ui = (idx: Int32Array): UserItems => buildUserItems(ds.events, idx, ds.numUsers, ds.numItems);
  return {
    ...(await fitEase(lambda, { train: ui(split.train), fit: ui(split.fit), validation: ui(split.validation) })),
    source: 'fit for this evaluation',
  };
}
