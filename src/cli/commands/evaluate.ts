import type { Command } from 'commander';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readBundle, resolveBundleVersion } from '../../bundle/read.js';
import { updateManifest } from '../../bundle/write.js';
import { forgetShoppers } from '../../data/forget.js';
import { loadDataset } from '../../data/loaders/index.js';
import { reportSkipped } from '../skipped.js';
import { resolveDataDir } from '../../data/resolve.js';
import { defaultEvaluateOptions, evaluateBundle } from '../../eval/evaluate.js';
import { printEvaluation } from '../../eval/report.js';
import { instantiate } from '../../rank/model.js';
import { choiceArg, floatArg, intArg, requireOptions } from '../options.js';
import { writeFileAtomically } from '../../util/atomic-file.js';
import { VitrineError } from '../../protocol/errors.js';
import { checkOutputFile, writable } from '../../util/output-dir.js';
import { tuneAndFitEase } from '../../train/ease-tuning.js';

/** The flags' defaults (the seed is the bundle's, filled in per run). */
const DEFAULTS = defaultEvaluateOptions(0);

/**
 * A λ of 1e-300 failed the factorisation (the Gram matrix plus λ was not positive definite); the
 * bounds are chosen well clear of that and of a λ that swamps every count, not measured limits.
 */
const easeLambdaArg = floatArg(0.01, 1e7);

/**
 * Checked before the evaluation (minutes on larger data), not after it: the report may replace only
 * an earlier report, never another file that happens to have the name.
 */
function checkReportPath(path: string): void {
  // Written to a temporary file renamed over it.
  checkOutputFile('--report', path, true);
  if (!existsSync(path) || statSync(path).size === 0) return;
  let earlier: unknown;
  try {
    earlier = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    earlier = undefined;
  }
  const isReport = typeof earlier === 'object' && earlier !== null && 'protocol' in earlier && 'models' in earlier;
  if (!isReport)
    throw new VitrineError(
      'conflict',
      `--report ${path}: exists and is not an evaluation report; refusing to replace it (choose another path, or remove it yourself)`,
    );
}

export function registerEvaluate(program: Command): void {
  requireOptions(program.command('evaluate'), 'bundle', 'data')

    .description('run the quality protocol on a bundle: baselines and the bundle models side by side, JSON and tables')
    .option('-b, --bundle <dir>', 'bundle version directory, or a bundle directory (its newest version)')
    .option('-d, --data <dir|name>', 'the data the bundle was trained on')
    .option(
      '--ease-lambda <x>',
      "EASE regularisation, or 'auto' (the bundle's EASE when it has one, else tuned on validation up to 3,000 items, else 100)",
      (v: string) => (v === 'auto' ? ('auto' as const) : easeLambdaArg(v)),
      'auto' as const,
    )
    .option(
      '--ease-fit-max-items <n>',
      `fit the EASE baseline (when the bundle has none) only up to this many items: it needs ~20 bytes per item pair and time growing with items³`,
      intArg(0, 40_000),
      DEFAULTS.easeFitMaxItems,
    )
    .option(
      '--threshold <p>',
      'decision threshold for the ranker classification metrics',
      floatArg(0, 1),
      DEFAULTS.threshold,
    )
    .option(
      '--seed <n>',
      "seed for negative sampling and synthetic data (default: the bundle's training seed, which reproduces its stored report)",
      intArg(0, 0xffffffff),
    )
    .option(
      '--protocol <name>',
      'standard (repeats of train items not counted); repeats: also the variant where coming back to an item counts (buy it again), side by side',
      choiceArg(['standard', 'repeats'] as const),
      DEFAULTS.protocol,
    )
    .option('--report <file>', 'also write the JSON report here')
    .option('--json', 'print the JSON report instead of tables')
    .option('--no-save', 'do not store the metrics in the bundle manifest')
    .option('--lenient', 'skip bad input records (counted); the default when the bundle was trained with --lenient')
    .option('--forget <file>', 'leave out the same forgotten shoppers the bundle was trained without')
    .action(runEvaluate);
}

interface EvaluateCliOptions {
  bundle: string;
  data: string;
  easeLambda: number | 'auto';
  easeFitMaxItems: number;
  threshold: number;
  protocol: 'standard' | 'repeats';
  seed?: number;
  report?: string;
  json?: boolean;
  save: boolean;
  lenient?: boolean;
  forget?: string;
}

async function runEvaluate(opts: EvaluateCliOptions): Promise<void> {
  const version = resolveBundleVersion(opts.bundle);
  if (opts.report) checkReportPath(opts.report);
  if (opts.save && !writable(version))
    throw new VitrineError(
      'io_error',
      `--bundle ${version}: not writable, so the metrics cannot be stored in its manifest (add --no-save)`,
    );
  const data = readBundle(version);
  const trainedSeed = data.manifest.parameters.seed;
  const seed = opts.seed ?? (typeof trainedSeed === 'number' ? trainedSeed : 42);
  // The same records the build saw: a bundle trained with --lenient is evaluated leniently.
  const loaded = await loadDataset(await resolveDataDir(opts.data, seed), {
    lenient: opts.lenient ?? data.manifest.data.skipped !== undefined,
  });
  // A bundle trained with --forget is evaluated on the data it saw: the same shoppers left out.
  const ds = opts.forget ? forgetShoppers(loaded, opts.forget).dataset : loaded;
  reportSkipped(ds.source.skipped);
  const model = await instantiate(data);
  const report = await evaluateBundle(
    model,
    ds,
    {
      ...defaultEvaluateOptions(seed),
      easeLambda: opts.easeLambda,
      easeFitMaxItems: opts.easeFitMaxItems,
      threshold: opts.threshold,
      protocol: opts.protocol,
    },
    tuneAndFitEase,
  );
  await model.ranker.release();
  if (opts.json) console.log(JSON.stringify(report, null, 2));
  else printEvaluation(report);
  if (opts.report) await writeFileAtomically(opts.report, JSON.stringify(report, null, 2) + '\n');
  if (opts.save) {
    data.manifest.metrics = report as unknown as Record<string, unknown>;
    await updateManifest(version, data.manifest);
  }
}
