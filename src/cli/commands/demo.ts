import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadDataset } from '../../data/loaders/index.js';
import { datasetFingerprint } from '../../data/fingerprint.js';
import { ensureSynthetic } from '../../data/resolve.js';
import { summarize } from '../../data/dataset.js';
import { SCHEMA_VERSION } from '../../bundle/manifest.js';
import { bundleVersions } from '../../bundle/read.js';
import { splitWithValidation, summarizeSplit } from '../../data/split.js';
import type { SizePreset } from '../../data/synthetic/config.js';
import { note } from '../../util/progress.js';
import { choiceArg, intArg } from '../options.js';
import { printDatasetReport } from './inspect.js';
import { startServer } from './serve.js';
import { newVersionDir, runTrain, TRAIN_DEFAULTS } from './train.js';

interface DemoOptions {
  size: SizePreset;
  seed: number;
  port: number;
  serve: boolean;
  bundle: string;
}

/** The newest version under `bundleDir` this Vitrine can read, trained on data with this fingerprint, if any. */
function reusableVersion(bundleDir: string, fingerprint: string): string | undefined {
  if (!existsSync(bundleDir)) return undefined;
  const versions = bundleVersions(bundleDir).reverse();
  for (const v of versions) {
    try {
      const m = JSON.parse(readFileSync(join(bundleDir, v, 'manifest.json'), 'utf8')) as {
        schemaVersion?: number;
        data?: { fingerprint?: string };
      };
      if (m.schemaVersion === SCHEMA_VERSION && m.data?.fingerprint === fingerprint) return join(bundleDir, v);
    } catch {
      // An unreadable manifest is not a bundle to reuse.
    }
  }
  return undefined;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job on the embedded default: generate a synthetic shop, train and evaluate a bundle, serve it (what `npm start` runs)',
    )
    .option(
      '--size <preset>',
      'synthetic shop size: tiny, small, medium, large',
      choiceArg(['tiny', 'small', 'medium', 'large'] as SizePreset[]),
      'medium' as SizePreset,
    )
    .option('--seed <n>', 'random seed', intArg(0, 0xffffffff), 42)
    .option('-p, --port <n>', 'port to serve on (0 picks a free one)', intArg(0, 65535), 8080)
    .option('--bundle <dir>', 'where demo bundles live', 'models/demo')
    .option('--no-serve', 'stop after training and evaluation')
    .action(async (opts: DemoOptions) => {
      const dataDir = await ensureSynthetic({ size: opts.size, seed: opts.seed });
      const ds = await loadDataset(dataDir);
      printDatasetReport({ dataset: summarize(ds), split: summarizeSplit(ds.events, splitWithValidation(ds.events)) });
      const bundleDir = resolve(opts.bundle);
      let version = reusableVersion(bundleDir, datasetFingerprint(ds));
      if (version) note(`reusing bundle ${version} (trained on this exact data; delete it to retrain)`);
      else {
        version = await runTrain({
          ...TRAIN_DEFAULTS,
          data: dataDir,
          out: newVersionDir(bundleDir),
          bundle: 'demo',
          seed: opts.seed,
        });
      }
      if (!opts.serve) return;
      // The synthetic shop's clock ends in March 2026; serve with the bundle's clock so recency
      // features mean what they meant in training.
      // A fresh token per run unless one is given: a fixed one would be an open door on a shared host.
      const adminToken = process.env.VITRINE_ADMIN_TOKEN || randomBytes(12).toString('hex');
      const server = await startServer({ bundle: bundleDir, port: opts.port, clock: 'bundle', adminToken });
      const base = `http://127.0.0.1:${server.port}`;
      console.log(`
Vitrine is serving bundle ${server.version} at ${base} (WebSocket: ws://127.0.0.1:${server.port}/ws)

Try:
  curl -s -X POST ${base}/v1/recommend -d '{"user":"u12","k":5}'
  curl -s -X POST ${base}/v1/recommend -d '{"history":["i3","i10"],"k":5,"filters":{"priceMax":50}}'
  curl -s -X POST ${base}/v1/similar -d '{"item":"i3","k":5}'
  curl -s -X POST ${base}/v1/boughtTogether -d '{"items":["i3"],"k":5}'
  curl -s -X POST ${base}/v1/profile -d '{"user":"u12"}'
  curl -s -X POST ${base}/v1/event -d '{"user":"u12","item":"i3","type":"purchase"}'
  curl -s ${base}/metrics | grep vitrine_requests_total
  curl -s -X POST ${base}/admin/reload -H 'Authorization: Bearer ${adminToken}'   # after training a newer version into ${bundleDir}

Over WebSocket, send {"id":1,"call":"recommend","user":"u12","k":5} as a text (JSON) or binary (msgpack) frame.
Press Ctrl-C to stop (in-flight requests are answered first).`);
    });
}
