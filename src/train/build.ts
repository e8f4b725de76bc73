import { basename, dirname, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import type { BundleData } from '../bundle/model.js';
import { SCHEMA_VERSION, type Manifest } from '../bundle/manifest.js';
import { writeBundle } from '../bundle/write.js';
import type { Dataset } from '../data/dataset.js';
import { datasetFingerprint } from '../data/fingerprint.js';
import { buildUserItems } from '../data/interactions.js';
import { splitWithValidation } from '../data/split.js';
import { encodeCatalog } from '../features/catalog.js';
import { FeatureBuilder, makeFeatureSpec } from '../features/features.js';
import { historyOf, userTotals } from '../features/history.js';
import { DEFAULT_HNSW, HnswIndex, hnswRecall, type HnswParams } from '../index/hnsw.js';
import type { RetrievalConfig } from '../index/retrieve.js';
import { exportRankerOnnx } from '../rank/onnx-export.js';
import { OnnxRanker } from '../rank/onnx-ranker.js';
import { note, StageTimer } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { DEFAULT_ALS, type AlsModel, type AlsParams } from './als.js';
import { DEFAULT_BPR, type BprParams } from './bpr.js';
import { trainItemKnn } from './itemknn.js';
import { trainPopularity } from './popularity.js';
import { DEFAULT_RANKER, trainRanker, type RankerParams, type TrainedRanker } from './ranker.js';
import { labelledRows } from './ranker-data.js';
import { DEFAULT_RULES, mineRules } from './rules.js';
import { DEFAULT_SEGMENTS, trainSegments } from './segments.js';
import { EASE_BUNDLE_MAX_ITEMS, tuneAndFitEase } from './ease-tuning.js';
import { describeEmbedding, EMBEDDING_METHODS, trainEmbeddings, tuneEmbeddings, type EmbeddingConfig, type EmbeddingTrial } from './tune-embeddings.js';

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
  retrieval: RetrievalConfig;
  ranker: RankerParams;
  negativesPerPositive: number;
  /** HNSW recall@200 (against exact search) the chosen efSearch must reach. */
  recallTarget: number;
  /** Users sampled for embedding tuning and for ranker rows (bounds build time on large data). */
  tuneUsers: number;
  rankerUsers: number;
  /** EASE (the strongest baseline) goes into the bundle for catalogues up to this size: its dense weights take n² floats. */
  easeMaxItems: number;
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
    retrieval: { candidates: 200, knnCandidates: 100, recentWindow: 5 },
    ranker: { ...DEFAULT_RANKER, seed: seed + 2 },
    negativesPerPositive: 20,
    recallTarget: 0.97,
    tuneUsers: 3000,
    rankerUsers: 30000,
    easeMaxItems: EASE_BUNDLE_MAX_ITEMS,
  };
}

export interface BuildResult {
  dir: string;
  data: BundleData;
  hnsw: HnswIndex;
  timings: Record<string, number>;
}

const vitrineVersion = (): string => (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function maxTime(ds: Dataset, idx: Int32Array): number {
  let t = -Infinity;
  for (const e of idx) if (ds.events.timestamp[e] > t) t = ds.events.timestamp[e];
  return t;
}

/** The models one set of events yields: embeddings, neighbours, popularity, rules, histories and the HNSW index. */
function fitModels(ds: Dataset, idx: Int32Array, o: BuildOptions, als: AlsModel | EmbeddingConfig) {
  const ui = buildUserItems(ds.events, idx, ds.numUsers, ds.numItems);
  const model = 'itemFactors' in als ? als : trainEmbeddings(ui, als);
  const knn = trainItemKnn(ui, o.knnNeighbours);
  const popularity = trainPopularity(ds.events, idx, ds.numItems, o.trendingHalfLifeDays);
  const rules = mineRules(ds.events, idx, ds.numItems, DEFAULT_RULES);
  const totals = userTotals(ds.events, idx, ds.numUsers);
  const hnsw = HnswIndex.build(model.itemFactors, model.numItems, model.factors, o.hnsw);
  const ef = chooseEfSearch(hnsw, model, o.seed, o.hnsw.efSearch, o.recallTarget);
  note(`HNSW (${hnsw.partitions.length} norm partitions) recall@200 vs exact search: ${ef.sweep.map((p) => `ef ${p.efSearch}: ${p.recallAt200}`).join(', ')}; chosen efSearch ${ef.efSearch}`);
  return { ui, als: model, knn, popularity, rules, totals, hnsw, ef };
}

/**
 * The offline build: tune embeddings and train the ranker on train-minus-validation, then fit the
 * final models on train (or on everything with holdout `none`), export and check the ONNX ranker,
 * and write one versioned bundle.
 */
export async function buildBundle(ds: Dataset, o: BuildOptions): Promise<BuildResult> {
  const timer = new StageTimer();
  const outDir = resolve(o.outDir);
  const split = await timer.run('split', () => splitWithValidation(ds.events));
  const trainIdx = o.holdout === 'protocol' ? split.train : Int32Array.from({ length: ds.numEvents }, (_, i) => i);
  // With no holdout the validation slice is the last 20% of each user's whole history.
  const inner = o.holdout === 'protocol' ? { fit: split.fit, validation: split.validation } : (() => {
    const s = splitWithValidation(ds.events, 0.2, 0.2);
    return { fit: s.train, validation: s.test };
  })();
  // Tuning and the ranker learn from each user's later events; without any there is nothing to learn.
  if (inner.validation.length === 0 || inner.fit.length === 0 || ds.numItems < 2) {
    throw new UserError(`too little data to train: ${ds.numEvents} events, ${ds.numUsers} users, ${ds.numItems} items, and no user has enough events to hold some back for validation (users need several events each)`);
  }
  const catalog = encodeCatalog(ds.itemInfo);
  const spec = makeFeatureSpec(ds.userInfo, o.retrieval.recentWindow);

  // Stage 1: choose the embedding hyper-parameters on validation.
  const fitUi = buildUserItems(ds.events, inner.fit, ds.numUsers, ds.numItems);
  const valUi = buildUserItems(ds.events, inner.validation, ds.numUsers, ds.numItems);
  const tuned = await timer.run('tune embeddings', () => tuneEmbeddings(fitUi, valUi, embeddingGrid(o), o.tuneUsers, o.seed));
  note(`chosen embeddings: ${describeEmbedding(tuned.bestConfig)} factors=${tuned.bestConfig.params.factors}`);

  // Stage 2: ranker rows from validation with first-stage models fit without it.
  const fitModelsResult = await timer.run('fit-stage models', () => fitModels(ds, inner.fit, o, tuned.best));
  const fitNow = maxTime(ds, inner.fit);
  const fitFeatures = new FeatureBuilder({ catalog, factors: tuned.best.factors, itemFactors: tuned.best.itemFactors, knn: fitModelsResult.knn, popularity: fitModelsResult.popularity, rules: fitModelsResult.rules }, spec);
  const rows = await timer.run('ranker rows', () =>
    labelledRows(
      { hnsw: fitModelsResult.hnsw, knn: fitModelsResult.knn, features: fitFeatures, factors: tuned.best.factors, userFactors: tuned.best.userFactors, histories: { ui: fitModelsResult.ui, totals: fitModelsResult.totals }, users: ds.userInfo, retrieval: o.retrieval },
      valUi,
      fitNow,
      o.negativesPerPositive,
      o.seed + 3,
      'ranker rows',
      o.rankerUsers,
    ),
  );
  note(`ranker rows: ${rows.y.length} (${rows.y.reduce((a, b) => a + b, 0)} positive) from ${rows.usersWithTargets} users; validation candidate recall ${rows.candidateRecall.toFixed(4)}`);
  if (rows.y.length === 0 || !rows.y.some((v) => v > 0)) throw new UserError(`too little data to train a ranker: no user's later events were found among their candidates (${rows.usersWithTargets} users had some to find); give more events per user`);
  const ranker = await timer.run('train ranker', () => trainRanker({ X: rows.X, y: rows.y, group: rows.group, width: rows.width, featureNames: spec.names }, o.ranker));
  const onnx = exportRankerOnnx(ranker);
  const onnxMaxAbsDiff = await timer.run('check onnx export', () => checkExport(onnx, ranker));
  note(`ONNX ranker vs trainer on ${ranker.checkOutputs.length} rows: max abs difference ${onnxMaxAbsDiff.toExponential(2)}`);
  if (!(onnxMaxAbsDiff <= 1e-4)) throw new Error(`exported ONNX ranker differs from the trainer by ${onnxMaxAbsDiff} (> 1e-4)`);

  // Stage 3: final models on train (or everything).
  const final = await timer.run('final models', () => fitModels(ds, trainIdx, o, tuned.bestConfig));
  const referenceTime = maxTime(ds, trainIdx);
  const ef = final.ef;
  const recall = ef.recall;
  const histories = Array.from({ length: ds.numUsers }, (_, u) => historyOf(final.ui, final.totals, u));
  const ease = ds.numItems <= o.easeMaxItems ? await timer.run('fit ease', () => tuneAndFitEase('auto', { train: final.ui, fit: fitUi, validation: valUi })) : undefined;
  if (ease) note(`EASE baseline: lambda ${ease.model.lambda} (${ease.chosenBy})`);
  const segments = await timer.run('segments', () => trainSegments(histories, catalog, referenceTime, { ...DEFAULT_SEGMENTS, seed: o.seed + 4 }));
  note(`segments: k=${segments.k} (silhouette ${JSON.stringify(segments.silhouetteByK)})`);

  const version = basename(outDir);
  const manifest: Manifest = {
    schemaVersion: SCHEMA_VERSION,
    bundle: basename(dirname(outDir)),
    version,
    createdAt: new Date().toISOString(),
    vitrineVersion: vitrineVersion(),
    data: {
      format: ds.source.format,
      path: ds.source.path,
      events: ds.numEvents,
      users: ds.numUsers,
      items: ds.numItems,
      fingerprint: datasetFingerprint(ds),
      holdout: o.holdout,
      trainEvents: trainIdx.length,
      referenceTime,
      ...(ds.source.skipped ? { skipped: ds.source.skipped } : {}),
    },
    parameters: {
      seed: o.seed,
      embeddings: { method: EMBEDDING_METHODS[tuned.bestConfig.method], ...tuned.bestConfig.params, chosenBy: 'validation NDCG@10 over the grid', trials: summarizeTrials(tuned.trials) },
      itemKnn: { neighbours: o.knnNeighbours, similarity: 'cosine' },
      popularity: { trendingHalfLifeDays: o.trendingHalfLifeDays },
      hnsw: {
        ...o.hnsw,
        efSearch: ef.efSearch,
        partitions: final.hnsw.partitions.map(({ maxNorm, items }) => ({ maxNorm: Number(maxNorm.toPrecision(4)), items })),
        partitionedBy: `item vector norm, largest first; a partition closes at a ${o.hnsw.partitionNormRatio}x norm range once it holds ${o.hnsw.minPartitionSize} items; each gets sqrt(maxNorm^2 - |v|^2) as an extra coordinate and is stored divided by maxNorm`,
        chosenBy: `smallest efSearch >= ${o.hnsw.efSearch} with recall@200 >= ${o.recallTarget} against exact search`, sweep: ef.sweep },
      retrieval: o.retrieval,
      ranker: { ...o.ranker, negativesPerPositive: o.negativesPerPositive, rows: rows.y.length, positives: rows.y.reduce((a, b) => a + b, 0), bestEpoch: ranker.bestEpoch, epochs: ranker.epochLoss },
      ease: ease
        ? { lambda: ease.model.lambda, chosenBy: ease.chosenBy, validation: ease.validation, stored: true }
        : { stored: false, reason: `${ds.numItems} items exceed --ease-max-items ${o.easeMaxItems} (dense weights take items² floats); evaluation fits it` },
      rules: { ...DEFAULT_RULES, transactions: final.rules.transactions, basis: final.rules.basis, rules: final.rules.consequent.length },
      segments: { k: segments.k, criterion: segments.criterion, silhouetteByK: segments.silhouetteByK, labels: segments.labels, sizes: segments.sizes },
    },
    dimensions: { items: ds.numItems, users: ds.numUsers, factors: final.als.factors, features: spec.names.length },
    featureNames: spec.names,
    checks: { onnxMaxAbsDiff, hnswRecallAt200: Number(recall.toFixed(4)), validationCandidateRecall: Number(rows.candidateRecall.toFixed(4)) },
    files: {},
    timings: timer.timings,
  };
  const data: BundleData = {
    manifest,
    dir: '',
    items: ds.itemInfo,
    userIds: [...ds.users.list()],
    users: ds.userInfo,
    als: { factors: final.als.factors, regularization: final.als.regularization, alpha: final.als.alpha, itemFactors: final.als.itemFactors, userFactors: final.als.userFactors, itemGram: final.als.itemGram },
    knn: final.knn,
    popularity: final.popularity,
    rules: final.rules,
    history: { ui: final.ui, totals: final.totals },
    featureSpec: spec,
    segments,
    rankerOnnx: onnx,
    ease: ease && { ...ease.model, chosenBy: ease.chosenBy, validation: ease.validation },
    hnsw: { ...o.hnsw, efSearch: ef.efSearch, recallAt200: recall, partitions: final.hnsw.partitions },
    retrieval: o.retrieval,
  };
  const dir = await timer.run('write bundle', () => writeBundle(data, final.hnsw, outDir));
  return { dir, data, hnsw: final.hnsw, timings: timer.timings };
}

function embeddingGrid(o: BuildOptions): EmbeddingConfig[] {
  const grid: EmbeddingConfig[] = [];
  if (o.embeddings !== 'bpr') for (const g of o.alsGrid) grid.push({ method: 'als', params: { ...o.als, ...g } });
  if (o.embeddings !== 'als') for (const g of o.bprGrid) grid.push({ method: 'bpr', params: { ...o.bpr, factors: o.als.factors, ...g } });
  return grid;
}

function summarizeTrials(trials: EmbeddingTrial[]): { method: string; trial: string; ndcg10: number; recall50: number; seconds: number }[] {
  return trials.map((t) => ({ method: t.config.method, trial: describeEmbedding(t.config), ndcg10: Number(t.validation['ndcg@10'].toFixed(4)), recall50: Number(t.validation['recall@50'].toFixed(4)), seconds: Number(t.seconds.toFixed(1)) }));
}

/** Runs the exported graph on the trainer's check rows; returns the largest absolute difference. */
async function checkExport(onnx: Uint8Array, ranker: TrainedRanker): Promise<number> {
  const session = await OnnxRanker.create(onnx, ranker.mean.length);
  const rows = ranker.checkOutputs.length;
  const out = await session.score(ranker.checkRows, rows);
  await session.release();
  let max = 0;
  for (let r = 0; r < rows; r++) max = Math.max(max, Math.abs(out[r] - ranker.checkOutputs[r]));
  return max;
}

/** Sample user vectors (non-zero) as HNSW queries. */
function recallQueries(als: AlsModel, seed: number): { queries: Float32Array; count: number } {
  const rng = new Rng(seed + 5);
  const d = als.factors;
  const candidates: number[] = [];
  for (let u = 0; u < als.numUsers; u++) {
    let nz = false;
    for (let f = 0; f < d && !nz; f++) nz = als.userFactors[u * d + f] !== 0;
    if (nz) candidates.push(u);
  }
  const picked = rng.shuffle(candidates).slice(0, 300);
  const queries = new Float32Array(picked.length * d);
  picked.forEach((u, q) => queries.set(als.userFactors.subarray(u * d, (u + 1) * d), q * d));
  return { queries, count: picked.length };
}

export interface EfSweepPoint {
  efSearch: number;
  recallAt200: number;
  queriesPerSecond: number;
}

/**
 * The smallest efSearch (at least the candidate count) whose recall@200 against exact search reaches
 * the target, from a sweep over user-vector queries. Should recall level off below the target (items
 * the graphs cannot reach), the sweep stops at the plateau instead of paying for efSearch that buys
 * nothing; the build notes the shortfall and the manifest keeps the sweep either way.
 */
function chooseEfSearch(index: HnswIndex, als: AlsModel, seed: number, minEf: number, target: number): { efSearch: number; recall: number; sweep: EfSweepPoint[] } {
  const { queries, count } = recallQueries(als, seed);
  const k = Math.min(200, als.numItems);
  const sweep: EfSweepPoint[] = [];
  for (const ef of [...new Set([minEf, 200, 300, 400, 600, 800, 1200, 1600].filter((e) => e >= minEf))].sort((a, b) => a - b)) {
    index.setEf(ef);
    const t0 = performance.now();
    const recall = hnswRecall(index, als.itemFactors, als.numItems, als.factors, queries, count, k);
    const seconds = (performance.now() - t0) / 1000;
    sweep.push({ efSearch: ef, recallAt200: Number(recall.toFixed(4)), queriesPerSecond: Math.round(count / seconds) });
    if (recall >= target) break;
    const prev = sweep[sweep.length - 2];
    if (prev && recall - prev.recallAt200 < 0.01) break;
  }
  const reached = sweep.find((p) => p.recallAt200 >= target);
  // On a plateau, the point before the last step (which gained under 0.01) is the one worth paying for.
  const chosen = reached ?? sweep[Math.max(0, sweep.length - 2)];
  if (!reached) note(`warning: HNSW recall@200 levels off at ${chosen.recallAt200}, below the target ${target}; retrieval will miss some of the exact top 200 (a larger --hnsw-m raises the ceiling)`);
  index.setEf(chosen.efSearch);
  return { efSearch: chosen.efSearch, recall: chosen.recallAt200, sweep };
}
