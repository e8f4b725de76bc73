import { resolve } from 'node:path';
import type { BundleData } from '../bundle/model.js';
import { writeBundle } from '../bundle/write.js';
import { encodeCatalog, type EncodedCatalog } from '../data/catalog.js';
import type { Dataset } from '../data/dataset.js';
import { historyOf, userTotals } from '../data/history.js';
import { buildUserItems, type UserItems } from '../data/interactions.js';
import { negativeFeedback, positiveEvents, splitWithValidation } from '../data/split.js';
import { FeatureBuilder } from '../features/features.js';
import { type FeatureSpec, makeFeatureSpec } from '../features/spec.js';
import { DEFAULT_HNSW, HnswIndex, type HnswParams } from '../index/hnsw.js';
import type { RetrievalConfig } from '../index/retrieve.js';
import type { AlsModel } from '../model/als.js';
import { VitrineError } from '../protocol/errors.js';
import { labelledRows } from '../rank/labelled-rows.js';
import { type EventWeights, UNIFORM_WEIGHTS, weightsByCode } from '../data/event-weights.js';
import { learnsRepeats, repeatShare, type RepeatsMode } from './repeats.js';
import { note, StageTimer } from '../util/progress.js';
import { DEFAULT_ALS, type AlsParams } from './als.js';
import { DEFAULT_BPR, type BprParams } from './bpr.js';
import { EASE_BUNDLE_MAX_ITEMS, tuneAndFitEase } from './ease-tuning.js';
import { chooseEfSearch } from './ef-search.js';
import { trainItemKnn } from './itemknn.js';
import { DEFAULT_FOLLOWS, trainFollows } from './follows.js';
import { bundleManifest } from './bundle-manifest.js';
import { checkExport, exportRankerOnnx } from './onnx-export.js';
import { trainPopularity } from './popularity.js';
import { attributeLists, ITEMS_PER_TOKEN } from '../model/attribute-lists.js';
import { type AttributeCandidatesOption, chooseAttributeCandidates } from './attribute-choice.js';
import { DEFAULT_RANKER, trainRanker, type RankerParams } from './ranker.js';
import { trainPropensity } from './propensity.js';
import { DEFAULT_RULES, mineRules } from './rules.js';
import { DEFAULT_SEGMENTS, trainSegments } from './segments.js';
import { describeEmbedding, trainEmbeddings, tuneEmbeddings, type EmbeddingConfig } from './tune-embeddings.js';

export interface BuildOptions {
  outDir: string;
  seed: number;
  /** `protocol`: hold out the quality protocol's test split (the bundle can be evaluated); `none`: use every event. */
  holdout: 'protocol' | 'none';
  /** ALS settings; its `factors` sets the embedding width for both methods. */
  als: AlsParams;
  /** ALS grid points tried on the validation slice. */
  alsGrid: Pick<AlsParams, 'alpha' | 'regularization'>[];
  /** BPR settings (`factors` comes from `als`, so both methods compete at the same width). */
  bpr: BprParams;
  /** BPR grid points tried beside ALS's. */
  bprGrid: Partial<BprParams>[];
  /** Which embedding methods compete on validation NDCG@10: `auto` tries both grids. */
  embeddings: 'auto' | 'als' | 'bpr';
  knnNeighbours: number;
  trendingHalfLifeDays: number;
  hnsw: HnswParams;
  /** Every source's places but the attributes', which `attributeCandidates` decides. */
  retrieval: Omit<RetrievalConfig, 'attributeCandidates'>;
  attributeCandidates: AttributeCandidatesOption;
  ranker: RankerParams;
  negativesPerPositive: number;
  /** HNSW recall@200 (against exact search) the chosen efSearch must reach. */
  recallTarget: number;
  /** Users sampled for embedding tuning and for ranker rows (bounds build time on large data). */
  tuneUsers: number;
  rankerUsers: number;
  /** EASE (the strongest baseline) goes into the bundle for catalogues up to this size: its dense weights take n² floats. */
  easeMaxItems: number;
  /** Learn a purchase-labelled propensity model when the data has enough purchases (half the ranker's training time). */
  propensity: boolean;
  /** Whether the ranker learns repeat purchases (rows with the shopper's own items). */
  repeats: RepeatsMode;
  /** What one event of each type adds to a pair's interaction count (stored: serving weighs streamed events alike). */
  eventWeights: EventWeights;
}

export function defaultBuildOptions(outDir: string, seed = 42): BuildOptions {
  return {
    outDir,
    seed,
    holdout: 'protocol',
    als: { ...DEFAULT_ALS, seed },
    alsGrid: [
      { alpha: 2, regularization: 20 },
      { alpha: 5, regularization: 10 },
      { alpha: 10, regularization: 5 },
      { alpha: 1, regularization: 50 },
    ],
    bpr: { ...DEFAULT_BPR, seed },
    bprGrid: [{}],
    embeddings: 'auto',
    knnNeighbours: 100,
    trendingHalfLifeDays: 14,
    hnsw: { ...DEFAULT_HNSW, seed: seed + 1 },
    retrieval: {
      candidates: 200,
      knnCandidates: 25,
      followCandidates: 25,
      chainCandidates: 50,
      recentWindow: 5,
      baskets: true,
      ownCandidates: 50,
    },
    attributeCandidates: 'auto',
    ranker: { ...DEFAULT_RANKER, seed: seed + 2 },
    negativesPerPositive: 20,
    recallTarget: 0.97,
    tuneUsers: 3000,
    rankerUsers: 30000,
    easeMaxItems: EASE_BUNDLE_MAX_ITEMS,
    propensity: true,
    repeats: 'auto',
    eventWeights: { ...UNIFORM_WEIGHTS },
  };
}

export interface BuildResult {
  dir: string;
  data: BundleData;
  hnsw: HnswIndex;
  timings: Record<string, number>;
}

function maxTime(ds: Dataset, idx: Int32Array): number {
  let t = -Infinity;
  for (const e of idx) if (ds.events.timestamp[e] > t) t = ds.events.timestamp[e];
  return t;
}

/** The models one set of events yields: embeddings, neighbours, popularity, rules, histories and the HNSW index. */
function fitModels(ds: Dataset, idx: Int32Array, o: BuildOptions, als: AlsModel | EmbeddingConfig) {
  const ui = buildUserItems(ds.events, idx, ds.numUsers, ds.numItems, weightsByCode(o.eventWeights));
  const model = 'itemFactors' in als ? als : trainEmbeddings(ui, als);
  const knn = trainItemKnn(ui, o.knnNeighbours);
  const follows = trainFollows(ds.events, idx, ds.numItems, { ...DEFAULT_FOLLOWS, baskets: o.retrieval.baskets });
  const popularity = trainPopularity(ds.events, idx, ds.numItems, o.trendingHalfLifeDays);
  const rules = mineRules(ds.events, idx, ds.numItems, DEFAULT_RULES);
  const totals = userTotals(ds.events, idx, ds.numUsers);
  const hnsw = HnswIndex.build(model.itemFactors, model.numItems, model.factors, o.hnsw);
  const ef = chooseEfSearch(hnsw, model, o.seed, o.hnsw.efSearch, o.recallTarget);
  note(
    `HNSW (${hnsw.partitions.length} norm partitions) recall@200 vs exact search: ${ef.sweep.map((p) => `ef ${p.efSearch}: ${p.recallAt200}`).join(', ')}; chosen efSearch ${ef.efSearch}`,
  );
  return { ui, als: model, knn, follows, popularity, rules, totals, hnsw, ef };
}

/**
 * The offline build: tune embeddings and train the ranker on train-minus-validation, then fit the
 * final models on train (or on everything with holdout `none`), export and check the ONNX ranker,
 * and write one versioned bundle.
 */
export async function buildBundle(ds: Dataset, o: BuildOptions): Promise<BuildResult> {
  const timer = new StageTimer();
  const outDir = resolve(o.outDir);
  const { trainIdx, inner } = await timer.run('split', () => buildSplit(ds, o));
  const catalog = encodeCatalog(ds.itemInfo);
  const spec = makeFeatureSpec(ds.userInfo, o.retrieval.recentWindow, o.retrieval.baskets);

  // Stage 1: choose the embedding hyper-parameters on validation.
  const fitUi = buildUserItems(ds.events, inner.fit, ds.numUsers, ds.numItems, weightsByCode(o.eventWeights));
  const valUi = buildUserItems(ds.events, inner.validation, ds.numUsers, ds.numItems);
  const tuned = await timer.run('tune embeddings', () =>
    tuneEmbeddings(fitUi, valUi, embeddingGrid(o), o.tuneUsers, o.seed),
  );
  note(`chosen embeddings: ${describeEmbedding(tuned.bestConfig)} factors=${tuned.bestConfig.params.factors}`);

  // Stage 2: the ranker, on validation rows with first-stage models fit without them.
  const stage2 = await rankerStage(ds, o, inner.fit, valUi, tuned.best, catalog, spec, timer);
  const { ranker, rows, onnx, onnxMaxAbsDiff, repeats, retrieval, attributes } = stage2;

  const propensity = o.propensity
    ? await timer.run('train propensity', () => trainPropensity(rows, spec.names, ds, inner.validation, o.ranker))
    : undefined;
  // Stage 3: final models on train (or everything).
  const final = await timer.run('final models', () => fitModels(ds, trainIdx, o, tuned.bestConfig));
  const referenceTime = maxTime(ds, trainIdx);
  const histories = Array.from({ length: ds.numUsers }, (_, u) => historyOf(final.ui, final.totals, u));
  const ease =
    ds.numItems <= o.easeMaxItems
      ? await timer.run('fit ease', () => tuneAndFitEase('auto', { train: final.ui, fit: fitUi, validation: valUi }))
      : undefined;
  if (ease) note(`EASE baseline: lambda ${ease.model.lambda} (${ease.chosenBy})`);
  const segments = await timer.run('segments', () =>
    trainSegments(histories, catalog, referenceTime, { ...DEFAULT_SEGMENTS, seed: o.seed + 4 }),
  );
  note(`segments: k=${segments.k} (silhouette ${JSON.stringify(segments.silhouetteByK)})`);

  const { ef } = final;
  const manifest = bundleManifest({
    ds,
    o: { ...o, retrieval },
    outDir,
    trainEvents: trainIdx.length,
    referenceTime,
    tuned,
    ranker,
    rows,
    repeats,
    attributes,
    onnxMaxAbsDiff,
    propensity,
    ef,
    final,
    ease,
    segments,
    spec,
    timings: timer.timings,
  });
  const data: BundleData = {
    manifest,
    dir: '',
    items: ds.itemInfo,
    userIds: [...ds.users.list()],
    users: ds.userInfo,
    als: {
      factors: final.als.factors,
      regularization: final.als.regularization,
      alpha: final.als.alpha,
      itemFactors: final.als.itemFactors,
      userFactors: final.als.userFactors,
      itemGram: final.als.itemGram,
    },
    knn: final.knn,
    follows: final.follows,
    popularity: final.popularity,
    rules: final.rules,
    history: {
      ui: final.ui,
      totals: final.totals,
      rejected: negativeFeedback(ds.events, ds.numUsers, o.holdout === 'none' ? Infinity : referenceTime),
    },
    featureSpec: spec,
    segments,
    rankerOnnx: onnx,
    propensityOnnx: propensity?.onnx,
    ease: ease && { ...ease.model, chosenBy: ease.chosenBy, validation: ease.validation },
    hnsw: { ...o.hnsw, efSearch: ef.efSearch, recallAt200: ef.recall, partitions: final.hnsw.partitions },
    retrieval,
    eventWeights: o.eventWeights,
  };
  const dir = await timer.run('write bundle', () => writeBundle(data, final.hnsw, outDir));
  return { dir, data, hnsw: final.hnsw, timings: timer.timings };
}

/**
 * The events the final models learn from (the protocol's train split, or everything), and the inner
 * fit/validation split tuning and the ranker learn from.
 */
function buildSplit(
  ds: Dataset,
  o: BuildOptions,
): { trainIdx: Int32Array; inner: { fit: Int32Array; validation: Int32Array } } {
  const split = splitWithValidation(ds.events);
  const trainIdx = o.holdout === 'protocol' ? split.train : positiveEvents(ds.events);
  // With no holdout the validation slice is the last 20% of each user's whole history.
  const all = o.holdout === 'protocol' ? undefined : splitWithValidation(ds.events, 0.2, 0.2);
  const inner = all ? { fit: all.train, validation: all.test } : { fit: split.fit, validation: split.validation };
  // Tuning and the ranker learn from each user's later events; without any there is nothing to learn.
  if (inner.validation.length === 0 || inner.fit.length === 0 || ds.numItems < 2) {
    throw new VitrineError(
      'insufficient_data',
      `too little data to train: ${ds.numEvents} events, ${ds.numUsers} users, ${ds.numItems} items, and no user has enough events to hold some back for validation (users need several events each)`,
    );
  }
  return { trainIdx, inner };
}

/** Ranker rows from validation (first-stage models fit without it), the trained MLP, its ONNX export and the export's check. */
async function rankerStage(
  ds: Dataset,
  o: BuildOptions,
  fitIdx: Int32Array,
  valUi: UserItems,
  emb: AlsModel,
  catalog: EncodedCatalog,
  spec: FeatureSpec,
  timer: StageTimer,
) {
  const fit = await timer.run('fit-stage models', () => fitModels(ds, fitIdx, o, emb));
  const repeats = learnsRepeats(o.repeats, repeatShare(fit.ui, valUi));
  note(`ranker learns repeat purchases: ${repeats.learnt ? 'yes' : 'no'} (${repeats.chosenBy})`);
  const fitFeatures = new FeatureBuilder(
    {
      catalog,
      factors: emb.factors,
      itemFactors: emb.itemFactors,
      knn: fit.knn,
      follows: fit.follows,
      popularity: fit.popularity,
      rules: fit.rules,
    },
    spec,
  );
  const first = {
    hnsw: fit.hnsw,
    graphs: {
      knn: fit.knn,
      follows: fit.follows,
      attributes:
        o.attributeCandidates === 0 ? undefined : attributeLists(catalog, fit.popularity.count, ITEMS_PER_TOKEN),
    },
    factors: emb.factors,
    userFactors: emb.userFactors,
    histories: { ui: fit.ui, totals: fit.totals },
    retrieval: { ...o.retrieval, attributeCandidates: 0 },
  };
  const attributes = await timer.run('attribute candidates', () =>
    chooseAttributeCandidates(first, valUi, o.attributeCandidates, o.seed + 5),
  );
  note(`attribute candidates: ${attributes.retrieval.attributeCandidates} (${attributes.chosenBy})`);
  const stage = { ...first, features: fitFeatures, users: ds.userInfo, retrieval: attributes.retrieval };
  const rows = await timer.run('ranker rows', () =>
    labelledRows(stage, valUi, maxTime(ds, fitIdx), o.negativesPerPositive, o.seed + 3, 'ranker rows', {
      maxUsers: o.rankerUsers,
      repeats: repeats.learnt,
    }),
  );
  note(
    `ranker rows: ${rows.y.length} (${rows.y.reduce((a, b) => a + b, 0)} positive) from ${rows.usersWithTargets} users; validation candidate recall ${rows.candidateRecall.toFixed(4)}`,
  );
  if (rows.y.length === 0 || !rows.y.some((v) => v > 0)) {
    throw new VitrineError(
      'insufficient_data',
      `too little data to train a ranker: no user's later events were found among their candidates (${rows.usersWithTargets} users had some to find); give more events per user`,
    );
  }
  const ranker = await timer.run('train ranker', () =>
    trainRanker({ X: rows.X, y: rows.y, group: rows.group, width: rows.width, featureNames: spec.names }, o.ranker),
  );
  const onnx = exportRankerOnnx(ranker);
  const onnxMaxAbsDiff = await timer.run('check onnx export', () => checkExport(onnx, ranker));
  note(
    `ONNX ranker vs trainer on ${ranker.checkOutputs.length} rows: max abs difference ${onnxMaxAbsDiff.toExponential(2)}`,
  );
  if (!(onnxMaxAbsDiff <= 1e-4))
    throw new Error(`exported ONNX ranker differs from the trainer by ${onnxMaxAbsDiff} (> 1e-4)`);
  // A ranker that never saw a shopper's own items is not asked to rank them (excludeSeen false).
  const retrieval = { ...stage.retrieval, ownCandidates: repeats.learnt ? o.retrieval.ownCandidates : 0 };
  return { ranker, rows, onnx, onnxMaxAbsDiff, repeats, retrieval, attributes };
}

function embeddingGrid(o: BuildOptions): EmbeddingConfig[] {
  const grid: EmbeddingConfig[] = [];
  if (o.embeddings !== 'bpr') for (const g of o.alsGrid) grid.push({ method: 'als', params: { ...o.als, ...g } });
  if (o.embeddings !== 'als')
    for (const g of o.bprGrid) grid.push({ method: 'bpr', params: { ...o.bpr, factors: o.als.factors, ...g } });
  return grid;
}
