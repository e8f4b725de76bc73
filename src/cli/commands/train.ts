import { type Command, InvalidArgumentError } from 'commander';
import type { RepeatsMode } from '../../train/repeats.js';
import type { EventWeights } from '../../data/event-weights.js';
import { join, resolve } from 'node:path';
import { updateManifest } from '../../bundle/write.js';
import { BUNDLE_MARKER } from '../../bundle/manifest.js';
import { forgetShoppers } from '../../data/forget.js';
import { loadDataset } from '../../data/loaders/index.js';
import { reportSkipped } from '../skipped.js';
import { resolveDataDir } from '../../data/resolve.js';
import { defaultEvaluateOptions, evaluateBundle } from '../../eval/evaluate.js';
import { printEvaluation } from '../../eval/report.js';
import { instantiate } from '../../rank/model.js';
import { buildBundle, defaultBuildOptions } from '../../train/build.js';
import { DEFAULT_HNSW } from '../../index/hnsw.js';
import { EASE_BUNDLE_MAX_ITEMS } from '../../train/ease-tuning.js';
import { note } from '../../util/progress.js';
import { choiceArg, eventWeightsArg, intArg, intListArg, nameArg, requireOptions } from '../options.js';
import { DEFAULT_RANKER } from '../../train/ranker.js';
import { prepareOutputDir } from '../../util/output-dir.js';
import { type Claim, claimName } from '../../util/claim.js';
import { writeFileAtomically } from '../../util/atomic-file.js';
import { tuneAndFitEase } from '../../train/ease-tuning.js';
import {
  AUTO_ATTRIBUTE_CANDIDATES,
  type AttributeCandidatesOption,
  checkAttributeCandidates,
} from '../../train/attribute-choice.js';
import { MAX_ATTRIBUTE_CANDIDATES } from '../../model/attribute-lists.js';

/** `auto`, or a whole number (the range is checked against --candidates before any work). */
function attributeCandidatesArg(value: string): AttributeCandidatesOption {
  const v = value.trim();
  if (v === 'auto') return 'auto';
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`expected 'auto' or a whole number, got "${value}"`);
  return Number(v);
}

/** A sortable version name from the clock, e.g. v20261124-083012. */
function timestampVersion(date = new Date()): string {
  return `v${date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
}

/** A new version name in `bundleDir` (v<timestamp>, -2, -3 when taken), claimed until the build writes it. */
export function newVersion(bundleDir: string, at = new Date()): Claim {
  return claimName(bundleDir, timestampVersion(at));
}

export interface TrainCliOptions {
  data: string;
  out?: string;
  bundle: string;
  seed: number;
  holdout: 'protocol' | 'none';
  factors: number;
  tune: boolean;
  candidates: number;
  knnCandidates: number;
  followCandidates: number;
  chainCandidates: number;
  attributeCandidates: AttributeCandidatesOption;
  efSearch: number;
  hnswM: number;
  easeMaxItems: number;
  epochs: number;
  /** The ranker's hidden layer widths (the propensity model keeps its own: PROPENSITY_HIDDEN). */
  rankerLayers: readonly number[];
  embeddings: 'auto' | 'als' | 'bpr';
  evaluate: boolean;
  propensity: boolean;
  repeats: RepeatsMode;
  ownCandidates: number;
  baskets: 'auto' | 'on' | 'off';
  eventWeights?: EventWeights;
  lenient?: boolean;
  /** Tombstones (GET /admin/forgotten): these shoppers are left out of the bundle. */
  forget?: string;
}

/** What `vitrine train` does without options; the demo trains with exactly these. */
export const TRAIN_DEFAULTS = {
  holdout: 'protocol',
  factors: 64,
  embeddings: 'auto',
  tune: true,
  candidates: 200,
  knnCandidates: 25,
  followCandidates: 25,
  chainCandidates: 50,
  attributeCandidates: 'auto' as AttributeCandidatesOption,
  efSearch: 200,
  hnswM: DEFAULT_HNSW.M,
  easeMaxItems: EASE_BUNDLE_MAX_ITEMS,
  epochs: 12,
  rankerLayers: DEFAULT_RANKER.hidden,
  evaluate: true,
  propensity: true,
  repeats: 'auto',
  ownCandidates: 50,
  baskets: 'auto',
} as const satisfies Partial<TrainCliOptions>;

/**
 * Trains a bundle into `--out`, or into a new version of `models/<bundle>` claimed for the build. No
 * signal handler: Ctrl-C ends the build at once, and everything it writes is written beside its
 * target and renamed into place, so an interrupted build leaves nothing half-made.
 */
export async function runTrain(opts: TrainCliOptions): Promise<string> {
  const claim = opts.out === undefined ? newVersion(join('models', opts.bundle)) : undefined;
  try {
    return await trainInto(resolve(opts.out ?? claim!.path), opts);
  } finally {
    claim?.release();
  }
}

async function trainInto(outDir: string, opts: TrainCliOptions): Promise<string> {
  const started = performance.now();
  // Before the data is loaded (or generated): a wrong --out or split is refused at once, not minutes later.
  if (opts.attributeCandidates !== 'auto') checkAttributeCandidates(opts.attributeCandidates, opts.candidates);
  prepareOutputDir(outDir, BUNDLE_MARKER);
  const dir = await resolveDataDir(opts.data, opts.seed);
  const loaded = await loadDataset(dir, { lenient: opts.lenient });
  const forgotten = opts.forget ? forgetShoppers(loaded, opts.forget) : undefined;
  if (forgotten)
    note(
      `--forget ${opts.forget}: left out ${forgotten.users} forgotten shoppers and their ${forgotten.events} events`,
    );
  const ds = forgotten?.dataset ?? loaded;
  reportSkipped(ds.source.skipped);
  const o = defaultBuildOptions(outDir, opts.seed);
  o.holdout = opts.holdout;
  o.als.factors = opts.factors;
  o.embeddings = opts.embeddings;
  if (!opts.tune) {
    o.alsGrid = o.alsGrid.slice(0, 1);
    o.bprGrid = o.bprGrid.slice(0, 1);
    if (o.embeddings === 'auto') o.embeddings = 'als';
  }
  o.retrieval = {
    ...o.retrieval,
    candidates: opts.candidates,
    knnCandidates: opts.knnCandidates,
    followCandidates: opts.followCandidates,
    chainCandidates: opts.chainCandidates,
    ownCandidates: opts.ownCandidates,
    baskets: opts.baskets === 'on' || (opts.baskets === 'auto' && !ds.source.orderedTies),
  };
  note(
    `baskets: ${o.retrieval.baskets ? 'items touched at one timestamp are one basket' : "the file's order within a timestamp is kept"} (--baskets ${opts.baskets}${ds.source.orderedTies ? `; ${ds.source.format} lists same-time events in the order they happened` : ''})`,
  );
  o.attributeCandidates = opts.attributeCandidates;
  o.repeats = opts.repeats;
  if (opts.eventWeights) o.eventWeights = opts.eventWeights;
  o.hnsw.efSearch = Math.max(opts.efSearch, opts.candidates);
  o.hnsw.M = opts.hnswM;
  o.easeMaxItems = opts.easeMaxItems;
  o.ranker.epochs = opts.epochs;
  o.ranker.hidden = [...opts.rankerLayers];
  o.propensity = opts.propensity;
  const built = await buildBundle(ds, o);
  if (forgotten) {
    built.data.manifest.data.forgotten = { users: forgotten.users, events: forgotten.events };
    await updateManifest(built.dir, built.data.manifest);
  }
  note(`bundle written to ${built.dir} in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  if (opts.evaluate && opts.holdout === 'protocol') {
    const model = await instantiate(built.data, { hnsw: built.hnsw });
    const report = await evaluateBundle(
      model,
      ds,
      { ...defaultEvaluateOptions(opts.seed), negativesPerPositive: o.negativesPerPositive },
      tuneAndFitEase,
    );
    await model.ranker.release();
    printEvaluation(report);
    built.data.manifest.metrics = report as unknown as Record<string, unknown>;
    await updateManifest(built.dir, built.data.manifest);
    await writeFileAtomically(join(built.dir, 'evaluation.json'), JSON.stringify(report, null, 2) + '\n');
  }
  console.log(`\nbundle: ${built.dir}\ntotal time: ${((performance.now() - started) / 1000).toFixed(1)}s`);
  return built.dir;
}

export function registerTrain(program: Command): void {
  const cmd = requireOptions(program.command('train'), 'data')

    .description(
      'build a model bundle: embeddings, HNSW index, ONNX ranker, popularity, rules, segments (then evaluate it)',
    )
    .option(
      '-d, --data <dir|name>',
      'data directory, a shared data set name (ml-100k, amazon-beauty), or synthetic[:size]',
    )
    .option('-o, --out <dir>', 'bundle version directory (default models/<bundle>/v<timestamp>)')
    .option('--bundle <name>', 'bundle name when --out is not given (a directory under models/)', nameArg, 'default')
    .option('--seed <n>', 'seed: the same seed and data give the same models', intArg(0, 0xffffffff), 42)
    .option(
      '--holdout <mode>',
      'protocol: hold out the test split (evaluable); none: train on every event (production)',
      choiceArg(['protocol', 'none'] as const),
      TRAIN_DEFAULTS.holdout,
    )
    .option('--factors <n>', 'embedding dimensions', intArg(4, 512), TRAIN_DEFAULTS.factors)
    .option(
      '--embeddings <method>',
      'auto (ALS and BPR compete on validation NDCG@10), als or bpr',
      choiceArg(['auto', 'als', 'bpr'] as const),
      TRAIN_DEFAULTS.embeddings,
    )
    .option('--no-tune', 'skip the hyper-parameter grids: one point of one method (ALS unless --embeddings bpr)')
    .option(
      '--ef-search <n>',
      'least HNSW efSearch; the build raises it until recall@200 against exact search reaches 0.97',
      intArg(10, 10000),
      TRAIN_DEFAULTS.efSearch,
    )
    .option(
      '--hnsw-m <n>',
      'HNSW links per item: more cost memory, build and query time and lift the recall efSearch can reach',
      intArg(4, 96),
      TRAIN_DEFAULTS.hnswM,
    )
    .option(
      '--ease-max-items <n>',
      'store the EASE baseline (dense, items² floats) in the bundle up to this many items; evaluation fits it otherwise',
      intArg(0, 20000),
      TRAIN_DEFAULTS.easeMaxItems,
    )
    .option('--no-evaluate', 'skip the evaluation that follows a protocol build')
    .option(
      '--no-propensity',
      'skip the purchase-labelled propensity model (batch-score --propensity then uses the ranker)',
    )
    .option('--lenient', 'skip bad input records (counted) instead of stopping')
    .option('--forget <file>', 'leave out the shoppers a server was asked to forget (the JSON of GET /admin/forgotten)')
    .addHelpText('after', '\nExample: vitrine train --data ml-100k --out models/ml100k/v1')
    .action(async (opts: TrainCliOptions) => {
      await runTrain(opts);
    });
  candidateOptions(cmd);
  rankerOptions(cmd);
  interactionOptions(cmd);
}

/** How many candidates each retrieval source gives the ranker. */
function candidateOptions(cmd: Command): void {
  cmd
    .option(
      '--candidates <n>',
      'HNSW candidates per request for the ranker',
      intArg(10, 5000),
      TRAIN_DEFAULTS.candidates,
    )
    .option(
      '--knn-candidates <n>',
      'extra item-kNN candidates from the latest items',
      intArg(0, 5000),
      TRAIN_DEFAULTS.knnCandidates,
    )
    .option(
      '--follow-candidates <n>',
      'extra candidates shoppers went on to after the latest items (directed co-visitation)',
      intArg(0, 5000),
      TRAIN_DEFAULTS.followCandidates,
    )
    .option(
      '--chain-candidates <n>',
      'extra candidates two steps ahead: what shoppers went on to after the strongest of those followers',
      intArg(0, 5000),
      TRAIN_DEFAULTS.chainCandidates,
    )
    .option(
      '--attribute-candidates <n|auto>',
      `how many of HNSW's places go to the items most bought among the shopper's strongest attributes (at most ${MAX_ATTRIBUTE_CANDIDATES}), or 'auto': 0, ${AUTO_ATTRIBUTE_CANDIDATES.join(' or ')}, whichever finds most of the validation slice`,
      attributeCandidatesArg,
      TRAIN_DEFAULTS.attributeCandidates,
    );
}

/** How long the ranker trains and how large it is. */
function rankerOptions(cmd: Command): void {
  cmd
    .option(
      '--epochs <n>',
      'ranker training epochs (the best holdout epoch is kept)',
      intArg(1, 200),
      TRAIN_DEFAULTS.epochs,
    )
    .option(
      '--ranker-layers <list>',
      "the ranker's hidden layer widths, e.g. 64,32: narrower layers train and score faster, rank a little worse",
      intListArg(1, 1024, 4),
      TRAIN_DEFAULTS.rankerLayers,
    );
}

/** What counts as how much interest, and what the ranker learns about coming back to an item. */
function interactionOptions(cmd: Command): void {
  cmd
    .option(
      '--baskets <mode>',
      "items touched at one timestamp form one basket: auto (unless the data's files order them, as Beauty's do), on, off",
      choiceArg(['auto', 'on', 'off'] as const),
      TRAIN_DEFAULTS.baskets,
    )
    .option(
      '--event-weights <list>',
      'what one event of each type adds to a shopper-item interaction, e.g. view=1,cart=3,purchase=5 (default 1 each)',
      eventWeightsArg,
    )
    .option(
      '--own-candidates <n>',
      "the shopper's own items among the candidates when a request lets seen items back (excludeSeen false)",
      intArg(0, 5000),
      TRAIN_DEFAULTS.ownCandidates,
    )
    .option(
      '--repeats <mode>',
      'whether the ranker learns repeat purchases: auto (when >= 2% of later activity repeats an item), on, off',
      choiceArg(['auto', 'on', 'off'] as const),
      TRAIN_DEFAULTS.repeats,
    );
}
