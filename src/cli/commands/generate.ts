import type { Command } from 'commander';
import { resolve } from 'node:path';
import { configFor, SIZE_PRESETS, type SizePreset } from '../../data/synthetic/config.js';
import { generateShop } from '../../data/synthetic/write.js';
import { choiceArg, floatArg, intArg, requireOptions } from '../options.js';

export function registerGenerate(program: Command): void {
  requireOptions(program.command('generate'), 'out')

    .description('write a deterministic synthetic shop (items, users, promotions, events, ground truth)')
    .option('-o, --out <dir>', 'output directory (replaced atomically when done)')
    .option(
      '--size <preset>',
      `size preset: ${Object.keys(SIZE_PRESETS).join(', ')}`,
      choiceArg(Object.keys(SIZE_PRESETS) as SizePreset[]),
      'medium' as SizePreset,
    )
    .option('--seed <n>', 'random seed: the same seed gives byte-identical files', intArg(0, 0xffffffff), 42)
    .option('--users <n>', 'number of users, up to 1,000,000 (overrides the preset)', intArg(1, 1_000_000))
    .option('--items <n>', 'number of items, up to 1,000,000 (overrides the preset)', intArg(2, 1_000_000))
    .option('--categories <n>', 'number of categories, up to 1,000 (overrides the preset)', intArg(1, 1000))
    .option('--weeks <n>', 'simulated weeks, up to 260 (overrides the preset)', intArg(1, 260))
    .option(
      '--sessions-per-week <x>',
      'mean sessions per user per week, up to 50 (overrides the preset)',
      floatArg(0.001, 50),
    )
    .option('--json', 'print the summary as JSON')
    // Users and items are held in memory (events are streamed): a billion items aborted with an
    // out-of-memory error; 1M users and 1M items took 2.2 GB. users × items is bounded in validateConfig.
    .addHelpText(
      'after',
      '\nPresets (approximate events): tiny ~800, small ~40k, medium ~160k, large ~1.7M.\nExample: vitrine generate --out data/shop --size large --seed 7',
    )
    .action(
      async (opts: {
        out: string;
        size: SizePreset;
        seed: number;
        users?: number;
        items?: number;
        categories?: number;
        weeks?: number;
        sessionsPerWeek?: number;
        json?: boolean;
      }) => {
        const config = configFor(opts.size, {
          seed: opts.seed,
          ...(opts.users !== undefined && { users: opts.users }),
          ...(opts.items !== undefined && { items: opts.items }),
          ...(opts.categories !== undefined && { categories: opts.categories }),
          ...(opts.weeks !== undefined && { weeks: opts.weeks }),
          ...(opts.sessionsPerWeek !== undefined && { sessionsPerUserWeek: opts.sessionsPerWeek }),
        });
        const result = await generateShop(config, resolve(opts.out));
        if (opts.json) console.log(JSON.stringify(result, null, 2));
        else {
          console.log(
            `wrote ${result.dir}: ${result.events} events (${Object.entries(result.eventsByType)
              .map(([t, n]) => `${t} ${n}`)
              .join(', ')}), ${result.users} users, ${result.items} items in ${result.seconds.toFixed(1)}s`,
          );
        }
      },
    );
}
