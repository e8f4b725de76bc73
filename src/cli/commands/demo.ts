import type { Command } from 'commander';
import { summarize } from '../../data/dataset.js';
import { loadDataset } from '../../data/loaders/index.js';
import { ensureSynthetic } from '../../data/resolve.js';
import { splitWithValidation, summarizeSplit } from '../../data/split.js';
import type { SizePreset } from '../../data/synthetic/config.js';
import { choiceArg, intArg } from '../options.js';
import { printDatasetReport } from './inspect.js';

export function registerDemo(program: Command): void {
  program
    .command('demo', { isDefault: false })
    .description('the main job on the embedded default: generate a synthetic shop, load it and split it (what `npm start` runs)')
    .option('--size <preset>', 'synthetic shop size: tiny, small, medium, large', choiceArg(['tiny', 'small', 'medium', 'large'] as SizePreset[]), 'medium' as SizePreset)
    .option('--seed <n>', 'random seed', intArg(0, 0xffffffff), 42)
    .action(async (opts: { size: SizePreset; seed: number }) => {
      const dir = await ensureSynthetic({ size: opts.size, seed: opts.seed });
      const ds = await loadDataset(dir);
      const split = splitWithValidation(ds.events);
      printDatasetReport({ dataset: summarize(ds), split: summarizeSplit(ds.events, split) });
    });
}
