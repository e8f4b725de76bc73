import type { Command } from 'commander';
import { defaultBatchWorkers, runBatch } from '../../batch/job.js';
import type { BatchOptions, BatchSummary } from '../../batch/options.js';
import { KERNELS } from '../../batch/kernels/kernel.js';
import { choiceArg, floatArg, intArg, requireOptions } from '../options.js';
import { DEFAULT_BANDIT } from '../../promotions/bandit.js';
import { readPromotions } from '../../data/promotions.js';
import { promotionPlan } from './promotion-plan.js';
import { VitrineError } from '../../protocol/errors.js';
import { counted } from '../../util/progress.js';

export function registerBatchScore(program: Command): void {
  requireOptions(program.command('batch-score'), 'bundle', 'out')

    .description(
      "exact top-K over the whole catalogue for every user (optionally with the ranker's propensity and segment), streamed to JSONL or CSV",
    )
    .option('-b, --bundle <dir>', 'bundle directory (its newest version) or a version directory')
    .option('--all', 'score every user in the bundle')
    .option('--users <file>', 'score these user ids (one per line; unknown ids get trending items, marked cold_start)')
    .option('-k, --k <n>', 'items per user', intArg(1, 10000), 50)
    .option('-o, --out <file>', 'output file: .jsonl (one object per user) or .csv (one row per user and item)')
    .option('--propensity', "add each returned item's purchase probability (the ranker's, without a purchase model)")
    .option('--segments', "add each user's segment")
    .option(
      '--backend <name>',
      `scoring kernel: auto (measured at start-up), ${KERNELS.join(', ')}`,
      choiceArg(['auto', ...KERNELS] as const),
      'auto' as const,
    )
    .option('--workers <n>', 'worker threads (one per core)', intArg(1, 256), defaultBatchWorkers())
    .option(
      '--block <n>',
      "users per task, or 'auto' (a ~25 MB score matrix per block: 64 users for 100k items)",
      (v: string) => (v === 'auto' ? ('auto' as const) : intArg(1, 100000)(v)),
      'auto' as const,
    )
    .option('--resume', 'continue an interrupted run from its checkpoint (<out>.checkpoint.json)')
    .option('--force', 'overwrite an existing output file')
    .option('--include-seen', 'keep items the user already interacted with')
    .option(
      '--include-unavailable',
      'also recommend items the catalogue marks unavailable (left out by default, as in recommend)',
    )
    .option(
      '--promotions <file>',
      "add each user's promotion from this catalogue, chosen as the promotion call chooses",
    )
    .option('--store <url>', "with --promotions: the bandit's counts from this Redis store, as the servers learnt them")
    .option(
      '--promotion-exploration <share>',
      'with --promotions: the exploration floor',
      floatArg(0, 1),
      DEFAULT_BANDIT.exploration,
    )
    .option(
      '--seed <n>',
      'with --promotions: the random choices (the same seed, the same offers)',
      intArg(0, 0xffffffff),
      42,
    )
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nExample: vitrine batch-score --bundle models/shop --all --k 50 --out recs.jsonl --propensity --segments',
    )
    .action(async (opts: BatchFlags) => {
      if (opts.all && opts.users) throw new VitrineError('invalid_argument', '--all and --users: give one of them');
      if (opts.store && !opts.promotions)
        throw new VitrineError('invalid_argument', '--store: only read with --promotions');
      // Checked before the bundle loads: a bad catalogue is the user's to fix, at once.
      if (opts.promotions) await readPromotions(opts.promotions);
      const summary = await runBatch(batchOptions(opts));
      if (opts.json) console.log(JSON.stringify(summary, null, 2));
      else printSummary(summary);
    });
}

interface BatchFlags {
  bundle: string;
  all?: boolean;
  users?: string;
  k: number;
  out: string;
  propensity?: boolean;
  segments?: boolean;
  backend: BatchOptions['backend'];
  workers: number;
  block: number | 'auto';
  resume?: boolean;
  force?: boolean;
  includeSeen?: boolean;
  includeUnavailable?: boolean;
  promotions?: string;
  store?: string;
  promotionExploration: number;
  seed: number;
  json?: boolean;
}

function batchOptions(opts: BatchFlags): BatchOptions {
  const promotions = opts.promotions;
  return {
    bundle: opts.bundle,
    usersFile: opts.users,
    all: Boolean(opts.all),
    k: opts.k,
    out: opts.out,
    propensity: Boolean(opts.propensity),
    segments: Boolean(opts.segments),
    backend: opts.backend,
    workers: opts.workers,
    blockSize: opts.block,
    resume: Boolean(opts.resume),
    force: Boolean(opts.force),
    excludeSeen: !opts.includeSeen,
    availableOnly: !opts.includeUnavailable,
    promotions: promotions
      ? (segments) => promotionPlan(promotions, opts.store, segments, opts.promotionExploration, opts.seed)
      : undefined,
  };
}

function printSummary(summary: BatchSummary): void {
  console.log(
    `scored ${summary.users - summary.resumedFrom} users${summary.resumedFrom > 0 ? ` (resumed after ${summary.resumedFrom})` : ''} × ${summary.items} items in ${summary.seconds}s (${summary.wallSeconds}s with start-up): ${summary.usersPerSecond} users/s, ${summary.gflops} GFLOP/s (${summary.backend}, ${counted(summary.workers, 'worker')}); ${summary.coldStart} cold-start users${summary.resumedFrom > 0 ? ' in the whole job' : ''}; wrote ${summary.out} (${summary.bytes} bytes)`,
  );
}
