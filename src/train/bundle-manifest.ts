import type { TrainedPropensity } from './propensity.js';
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { SCHEMA_VERSION, type Manifest } from '../bundle/manifest.js';
import type { Dataset } from '../data/dataset.js';
import { datasetFingerprint } from '../data/fingerprint.js';
import type { FeatureSpec } from '../features/spec.js';
import type { HnswIndex } from '../index/hnsw.js';
import type { AlsModel } from '../model/als.js';
import type { FittedEase } from '../model/ease.js';
import type { AssociationRules } from '../model/rules.js';
import type { SegmentModel } from '../model/segments.js';
import type { BuildOptions } from './build.js';
import type { EfSweepPoint } from './ef-search.js';
import type { TrainedRanker } from './ranker.js';
import type { RepeatsDecision } from './repeats.js';
import type { AttributeChoice } from './attribute-choice.js';
import { DEFAULT_RULES } from './rules.js';
import { EMBEDDING_METHODS, describeEmbedding, type EmbeddingConfig, type EmbeddingTrial } from './tune-embeddings.js';

const vitrineVersion = (): string =>
  (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** What the build learned and measured, as the manifest records it. */
export interface ManifestInputs {
  ds: Dataset;
  o: BuildOptions;
  outDir: string;
  trainEvents: number;
  referenceTime: number;
  tuned: { bestConfig: EmbeddingConfig; trials: EmbeddingTrial[] };
  ranker: TrainedRanker;
  rows: { y: Float32Array; candidateRecall: number; candidateRecallBySource: Record<string, number> };
  repeats: RepeatsDecision;
  attributes: AttributeChoice;
  onnxMaxAbsDiff: number;
  /** The purchase-labelled model, when the data had enough purchases to learn one. */
  propensity: TrainedPropensity | undefined;
  ef: { efSearch: number; recall: number; sweep: EfSweepPoint[] };
  final: { hnsw: HnswIndex; rules: AssociationRules; als: AlsModel };
  ease: FittedEase | undefined;
  segments: SegmentModel;
  spec: FeatureSpec;
  timings: Record<string, number>;
}

/** The manifest of a new bundle version: every parameter, how each was chosen, and the build's checks (files are added by the writer). */
export function bundleManifest({
  ds,
  o,
  outDir,
  trainEvents,
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
  timings,
}: ManifestInputs): Manifest {
  return {
    schemaVersion: SCHEMA_VERSION,
    bundle: basename(dirname(outDir)),
    version: basename(outDir),
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
      trainEvents,
      referenceTime,
      ...(ds.source.skipped ? { skipped: ds.source.skipped } : {}),
    },
    parameters: {
      seed: o.seed,
      embeddings: {
        method: EMBEDDING_METHODS[tuned.bestConfig.method],
        ...tuned.bestConfig.params,
        chosenBy: 'validation NDCG@10 over the grid',
        trials: summarizeTrials(tuned.trials),
      },
      itemKnn: { neighbours: o.knnNeighbours, similarity: 'cosine' },
      popularity: { trendingHalfLifeDays: o.trendingHalfLifeDays },
      hnsw: {
        ...o.hnsw,
        efSearch: ef.efSearch,
        partitions: final.hnsw.partitions.map(({ maxNorm, items }) => ({
          maxNorm: Number(maxNorm.toPrecision(4)),
          items,
        })),
        partitionedBy: `item vector norm, largest first; a partition closes at a ${o.hnsw.partitionNormRatio}x norm range once it holds ${o.hnsw.minPartitionSize} items; each gets sqrt(maxNorm^2 - |v|^2) as an extra coordinate and is stored divided by maxNorm`,
        chosenBy: `smallest efSearch >= ${o.hnsw.efSearch} with recall@200 >= ${o.recallTarget} against exact search`,
        sweep: ef.sweep,
      },
      retrieval: o.retrieval,
      attributeCandidates: { chosenBy: attributes.chosenBy, validationRecall: attributes.validationRecall },
      eventWeights: o.eventWeights,
      ranker: {
        ...o.ranker,
        negativesPerPositive: o.negativesPerPositive,
        rows: rows.y.length,
        positives: rows.y.reduce((a, b) => a + b, 0),
        bestEpoch: ranker.bestEpoch,
        repeats: {
          learnt: repeats.learnt,
          validationShare: Number(repeats.share.toFixed(4)),
          chosenBy: repeats.chosenBy,
        },
        epochs: ranker.epochLoss,
      },
      ease: ease
        ? { lambda: ease.model.lambda, chosenBy: ease.chosenBy, validation: ease.validation, stored: true }
        : {
            stored: false,
            reason: `${ds.numItems} items exceed --ease-max-items ${o.easeMaxItems} (dense weights take items² floats); evaluation fits it`,
          },
      rules: {
        ...DEFAULT_RULES,
        transactions: final.rules.transactions,
        basis: final.rules.basis,
        rules: final.rules.consequent.length,
      },
      propensity: propensity
        ? { label: 'purchase', rows: propensity.rows, positives: propensity.positives, hidden: propensity.hidden }
        : {
            label: 'interaction',
            note: `${o.propensity ? 'too few purchases to learn from' : 'not trained (--no-propensity)'}: batch-score --propensity uses the ranker`,
          },
      segments: {
        k: segments.k,
        criterion: segments.criterion,
        silhouetteByK: segments.silhouetteByK,
        labels: segments.labels,
        sizes: segments.sizes,
      },
    },
    dimensions: { items: ds.numItems, users: ds.numUsers, factors: final.als.factors, features: spec.names.length },
    featureNames: spec.names,
    checks: buildChecks(onnxMaxAbsDiff, propensity, ef, rows),
    files: {},
    timings,
  };
}

/** The build's checks: the ONNX exports against their trainers, HNSW against exact search, retrieval per source. */
function buildChecks(
  onnxMaxAbsDiff: number,
  propensity: TrainedPropensity | undefined,
  ef: ManifestInputs['ef'],
  rows: ManifestInputs['rows'],
): Manifest['checks'] {
  const bySource = Object.entries(rows.candidateRecallBySource).map(([s, v]) => [
    `validationCandidateRecall.${s}`,
    Number(v.toFixed(4)),
  ]);
  return {
    onnxMaxAbsDiff,
    ...(propensity && { propensityOnnxMaxAbsDiff: propensity.onnxMaxAbsDiff }),
    hnswRecallAt200: Number(ef.recall.toFixed(4)),
    validationCandidateRecall: Number(rows.candidateRecall.toFixed(4)),
    ...Object.fromEntries(bySource),
  };
}

function summarizeTrials(
  trials: EmbeddingTrial[],
): { method: string; trial: string; ndcg10: number; recall50: number; seconds: number }[] {
  return trials.map((t) => ({
    method: t.config.method,
    trial: describeEmbedding(t.config),
    ndcg10: Number(t.validation['ndcg@10'].toFixed(4)),
    recall50: Number(t.validation['recall@50'].toFixed(4)),
    seconds: Number(t.seconds.toFixed(1)),
  }));
}
