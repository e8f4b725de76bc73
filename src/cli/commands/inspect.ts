import type { Command } from 'commander';
import { summarize } from '../../data/dataset.js';
import { loadDataset } from '../../data/loaders/index.js';
import { resolveDataDir } from '../../data/resolve.js';
import { splitWithValidation, summarizeSplit } from '../../data/split.js';
import { intArg, requireOptions } from '../options.js';
import { printTable } from '../../util/table.js';

export function registerInspect(program: Command): void {
  requireOptions(program.command('inspect'), 'data')

    .description('load a data set, validate it, and print its summary and the protocol split')
    .option(
      '-d, --data <dir|name>',
      'data directory, a shared data set name (ml-100k, amazon-beauty), or synthetic[:size]',
    )
    .option('--lenient', 'skip bad records (counted and explained) instead of stopping at the first')
    .option('--seed <n>', 'seed for synthetic data', intArg(0, 0xffffffff), 42)
    .option('--json', 'print JSON instead of tables')
    .action(async (opts: { data: string; lenient?: boolean; seed: number; json?: boolean }) => {
      const dir = await resolveDataDir(opts.data, opts.seed);
      const ds = await loadDataset(dir, { lenient: opts.lenient });
      const split = splitWithValidation(ds.events);
      const out = { dataset: summarize(ds), split: summarizeSplit(ds.events, split), skipped: ds.source.skipped };
      if (opts.json) {
        console.log(JSON.stringify(out, null, 2));
        return;
      }
      printDatasetReport(out);
    });
}

export function printDatasetReport(out: {
  dataset: ReturnType<typeof summarize>;
  split: ReturnType<typeof summarizeSplit>;
  skipped?: { skipped: number; byReason: Record<string, number>; examples: string[] };
}): void {
  const d = out.dataset;
  printTable('data set', [
    ['format', d.format],
    ['path', d.path],
    ['events', d.events],
    ['users', d.users],
    ['items', d.items],
    [
      'events by type',
      Object.entries(d.eventsByType)
        .map(([t, n]) => `${t} ${n}`)
        .join(', '),
    ],
    ['time range', `${d.firstTimestamp} .. ${d.lastTimestamp}`],
    ['density', d.density.toExponential(3)],
    ['items with category / price', `${d.itemsWithCategory} / ${d.itemsWithPrice}`],
    ['items not in catalogue', d.itemsWithoutCatalogue],
    ['users with attributes', d.usersWithAttributes],
  ]);
  const s = out.split;
  printTable('protocol split (last 20% per user as test; validation = last 20% of train)', [
    ['train events', s.trainEvents],
    ['test events', s.testEvents],
    ['validation events (inside train)', s.validationEvents ?? 0],
    ['train users', s.trainUsers],
    ['test users', s.testUsers],
  ]);
  if (out.skipped && out.skipped.skipped > 0) {
    printTable(
      `skipped records (lenient): ${out.skipped.skipped}`,
      Object.entries(out.skipped.byReason).map(([r, n]) => [r, n]),
    );
    for (const e of out.skipped.examples) console.log(`  e.g. ${e}`);
  }
}
