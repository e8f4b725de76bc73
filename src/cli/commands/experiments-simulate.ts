import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateManifest } from '../../bundle/manifest.js';
import { resolveBundleVersion } from '../../bundle/read.js';
import { datasetFingerprint } from '../../data/fingerprint.js';
import { loadDataset } from '../../data/loaders/index.js';
import { ensureSynthetic, parseSyntheticSpec } from '../../data/resolve.js';
import { configFor } from '../../data/synthetic/config.js';
import { recommendationResponse } from '../../data/synthetic/recommendation-response.js';
import { buildWorld, type World } from '../../data/synthetic/world.js';
import { type Experiment, parseExperiment } from '../../experiments/config.js';
import { METRICS } from '../../experiments/report.js';
import { type Respond, type SimulationSummary, simulateExperiment } from '../../experiments/simulate.js';
import { RANKINGS, type Ranking } from '../../protocol/calls.js';
import { VitrineError } from '../../protocol/errors.js';
import type { RecommendResult } from '../../protocol/replies.js';
import { loadConfig } from '../../serve/config/index.js';
import { VitrineServer } from '../../serve/server.js';
import { writeFileAtomically } from '../../util/atomic-file.js';
import { note, Progress } from '../../util/progress.js';
import { printTable } from '../../util/table.js';
import { choiceArg, intArg } from '../options.js';

export interface SimulateOptions {
  bundle: string;
  data: string;
  seed: number;
  visitors: number;
  runs: number;
  peeks: number;
  visits: number;
  k: number;
  baseline: Ranking;
}

export interface ExperimentSimulation {
  inputs: SimulateOptions & { shoppers: number };
  aa: SimulationSummary;
  ab: SimulationSummary;
}

/** What every variant shows each of the world's shoppers, asked of the real server in process. */
async function listsFrom(o: SimulateOptions, world: World, rankings: Ranking[]): Promise<Record<string, string[][]>> {
  const server = new VitrineServer(loadConfig(o.bundle, undefined, { port: 0, logLevel: 'silent', clock: 'bundle' }));
  await server.start();
  try {
    const out: Record<string, string[][]> = {};
    for (const ranking of rankings) {
      out[ranking] = [];
      for (const u of world.users) {
        const r = await server.handle(
          { id: 0, call: 'recommend', user: u.id, k: o.k, ranking, explain: false },
          'http',
        );
        if ('error' in r) throw new VitrineError(r.error.code, `recommend for ${u.id}: ${r.error.message}`);
        out[ranking].push((r.result as RecommendResult).items.map((x) => x.id));
      }
    }
    return out;
  } finally {
    await server.shutdown();
  }
}

/**
 * The bundle must be trained on this very shop: another seed's shop has the same ids and other
 * tastes, and the simulation would measure nothing. Checked by the data's fingerprint, as evaluate does.
 */
async function checkTrainedOn(o: SimulateOptions, shopDir: string): Promise<void> {
  const dir = resolveBundleVersion(o.bundle);
  const manifest = validateManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')), dir);
  if (datasetFingerprint(await loadDataset(shopDir)) !== manifest.data.fingerprint)
    throw new VitrineError(
      'invalid_argument',
      `--bundle ${o.bundle} was not trained on ${o.data} with seed ${o.seed} (its data: ${manifest.data.path}); train one with vitrine train --data ${o.data} --seed ${o.seed}`,
    );
}

const experiment = (name: string, variants: string[]): Experiment =>
  parseExperiment({ name, salt: name, variants: variants.map((v) => ({ name: v, weight: 1 })) }, name);

/**
 * An A/A experiment (the ranker against itself) and an A/B one (the ranker against `baseline`) on
 * the synthetic world, each over many seeded runs read at many peeks: how often the always-valid
 * intervals flag a difference that is not there, and how often and how soon one that is.
 */
export async function simulateExperiments(o: SimulateOptions): Promise<ExperimentSimulation> {
  const spec = parseSyntheticSpec(o.data, o.seed);
  if (!spec)
    throw new VitrineError(
      'invalid_argument',
      `--data: "${o.data}" is not synthetic[:tiny|small|medium|large]; the simulation needs the synthetic world's response model`,
    );
  await checkTrainedOn(o, await ensureSynthetic(spec));
  const world = buildWorld(configFor(spec.size, { seed: spec.seed }));
  if (o.baseline === 'ranker')
    throw new VitrineError(
      'invalid_argument',
      '--baseline: the A/B test puts the ranker against something else (embeddings, popularity)',
    );
  const lists = await listsFrom(o, world, ['ranker', o.baseline]);
  const response = recommendationResponse(world);
  const respond: Respond = (shopper, item, position, rng) => {
    if (rng.next() >= response.click(shopper, item, position)) return [];
    return rng.next() < response.purchaseAfterClick
      ? [{ type: 'click' }, { type: 'purchase', value: response.price(item) }]
      : [{ type: 'click' }];
  };
  const base = { respond, visitors: o.visitors, runs: o.runs, seed: o.seed, peeks: o.peeks, visits: o.visits };
  const run = (label: string, e: Experiment, l: Record<string, string[][]>): SimulationSummary => {
    const p = new Progress(label, o.runs, 'runs');
    const s = simulateExperiment({ ...base, experiment: e, lists: l }, () => p.tick());
    p.finish();
    return s;
  };
  const aa = run('A/A', experiment('aa', ['control', 'same']), { control: lists.ranker, same: lists.ranker });
  const ab = run('A/B', experiment('ab', [o.baseline, 'ranker']), {
    [o.baseline]: lists[o.baseline],
    ranker: lists.ranker,
  });
  return { inputs: { ...o, shoppers: world.users.length }, aa, ab };
}

function printSummary(title: string, s: SimulationSummary): void {
  const pct = (x: number | undefined): string => (x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);
  printTable(
    title,
    [...METRICS, 'any' as const].map((m) => [
      m,
      pct(s.flaggedShare[m]),
      pct(s.naiveFlaggedShare[m]),
      m === 'any' ? '' : pct(s.flaggedAhead[m]),
      m === 'any' ? '' : (s.medianVisitorsAtFlag[m] ?? '-'),
      m === 'any' ? '' : pct(s.meanRelativeLift[m]),
    ]),
    [
      'metric',
      'runs flagged',
      'z-test peeked',
      'flagged, treatment ahead',
      'median visitors at flag',
      'mean relative lift',
    ],
  );
}

export function registerExperimentsSimulate(parent: Command): void {
  parent
    .command('simulate')
    .description(
      'A/A and A/B experiments on the synthetic shop over many seeded runs: false positives and detection of the always-valid intervals',
    )
    .requiredOption('-b, --bundle <dir>', 'a bundle trained on the synthetic shop of --data and --seed')
    .option('--data <spec>', 'the synthetic shop (synthetic[:tiny|small|medium|large])', 'synthetic:small')
    .option('--seed <n>', "the shop's seed (the bundle's training data)", intArg(0), 42)
    .option('--visitors <n>', "visitors per run, drawn from the shop's shoppers", intArg(100, 10_000_000), 4000)
    .option('--runs <n>', 'seeded runs of each experiment', intArg(1, 100_000), 200)
    .option('--peeks <n>', "times each run's report is read (a flag at any of them counts)", intArg(1, 10_000), 20)
    .option('--visits <n>', 'mean visits (exposures) per visitor', intArg(1, 100), 2)
    .option('--k <n>', 'items per recommendation', intArg(1, 200), 10)
    .option(
      '--baseline <ranking>',
      `the A/B test's control, which the ranker is measured against (${RANKINGS.filter((r) => r !== 'ranker').join(', ')})`,
      choiceArg(RANKINGS),
      'popularity',
    )
    .option('--json <file>', 'also write the figures and inputs as JSON')
    .addHelpText(
      'after',
      '\nExample: vitrine experiments simulate --bundle models/shop --data synthetic:small --seed 42 --runs 200',
    )
    .action(async (o: SimulateOptions & { json?: string }) => {
      const r = await simulateExperiments(o);
      note(
        `${o.runs} runs × ${o.visitors} visitors (from ${r.inputs.shoppers} shoppers), ${o.peeks} peeks per run, k=${o.k}`,
      );
      printSummary('A/A (the ranker against itself): every flag is a false positive', r.aa);
      printSummary(`A/B (the ranker, treatment, against ${o.baseline}, control)`, r.ab);
      if (o.json) {
        await writeFileAtomically(o.json, `${JSON.stringify(r, null, 2)}\n`);
        console.log(`figures: ${o.json}`);
      }
    });
}
