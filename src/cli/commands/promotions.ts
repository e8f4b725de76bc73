import type { Command } from 'commander';
import { csvField } from '../../data/csv.js';
import { DEFAULT_BANDIT } from '../../promotions/bandit.js';
import { LOGGING_POLICIES, type LoggingPolicy, logDecisions } from '../../promotions/log.js';
import { simulationReport } from '../../promotions/report.js';
import { POLICIES, type PolicyName, simulatePromotions, type SimulationResult } from '../../promotions/simulate.js';
import { writeFileAtomically } from '../../util/atomic-file.js';
import { checkReplaceable } from '../../util/output-dir.js';
import { Progress } from '../../util/progress.js';
import { printTable } from '../../util/table.js';
import { choiceArg, floatArg, intArg, requireOptions } from '../options.js';
import { registerPromotionsEvaluate } from './promotions-evaluate.js';
import { simulationWorld } from './promotions-world.js';

const REPORT_MARK = '<meta name="generator" content="vitrine promotions simulate">';
export const LOG_HEADER = 'user,segment,eligible,action,reward,propensity';

function policyList(value: string): PolicyName[] {
  const names = value.split(',').map((s) => s.trim());
  for (const n of names) choiceArg(POLICIES)(n);
  return [...new Set(names)] as PolicyName[];
}

function printSimulation(r: SimulationResult, data: string): void {
  const oracle = r.policies.oracle;
  const rows = Object.entries(r.policies).map(([name, p]) => [
    name,
    p.conversions,
    Number(p.netRevenue.toFixed(2)),
    Number(p.reward.toFixed(2)),
    oracle && oracle.lastReward > 0 ? `${((100 * p.lastReward) / oracle.lastReward).toFixed(1)}%` : '-',
    Number((p.regret[p.regret.length - 1] ?? 0).toFixed(2)),
  ]);
  printTable(
    `promotion policies on ${data}, ${r.impressions} impressions, seed ${r.seed} (same shoppers and outcomes for every policy)`,
    rows,
    ['policy', 'orders', 'net revenue', 'expected net', 'last 20% vs oracle', 'regret'],
  );
  printTable(
    'best offer per segment (what the oracle knows)',
    Object.entries(r.segments).map(([key, s]) => [key, s.label, s.shoppers, s.best]),
    ['segment', 'label', 'shoppers', 'best'],
  );
}

export function registerPromotions(program: Command): void {
  const promotions = program
    .command('promotions')
    .description('choose promotions with a bandit: simulate policies, evaluate one on logged decisions');
  requireOptions(promotions.command('simulate'), 'impressions')
    .description("run promotion policies against the synthetic world's own response model")
    .option('--data <synthetic>', 'the synthetic shop: synthetic[:tiny|small|medium|large]', 'synthetic:small')
    .option('--impressions <n>', 'decisions per policy, up to 10,000,000', intArg(100, 10_000_000))
    .option('--policy <list>', `policies, comma-separated: ${POLICIES.join(', ')}`, policyList, [...POLICIES])
    .option('--seed <n>', 'the shop and the simulation (same seed, same results)', intArg(0, 0xffffffff), 42)
    .option('--promotions <file>', "the offers (default: the synthetic shop's promotions.csv)")
    .option(
      '--exploration <share>',
      'the exploration floor of Thompson sampling',
      floatArg(0, 1),
      DEFAULT_BANDIT.exploration,
    )
    .option('--report <file.html>', 'also write an HTML report with the regret curves')
    .option('--log <file.csv>', 'also write a decision log for vitrine promotions evaluate')
    .option(
      '--log-policy <name>',
      `the policy that makes the logged decisions: ${LOGGING_POLICIES.join(', ')}`,
      choiceArg(LOGGING_POLICIES),
      'uniform' as LoggingPolicy,
    )
    .option('--log-decisions <n>', 'decisions in the log, up to 1,000,000', intArg(100, 1_000_000), 20_000)
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      '\nExample: vitrine promotions simulate --data synthetic:small --impressions 200000 --report regret.html',
    )
    .action(
      async (opts: {
        data: string;
        impressions: number;
        policy: PolicyName[];
        seed: number;
        promotions?: string;
        exploration: number;
        report?: string;
        log?: string;
        logPolicy: LoggingPolicy;
        logDecisions: number;
        json?: boolean;
      }) => {
        if (opts.report) checkReplaceable('--report', opts.report, 'this command', (h) => h.includes(REPORT_MARK));
        if (opts.log) checkReplaceable('--log', opts.log, 'this command', (h) => h.startsWith(`${LOG_HEADER}\n`));
        const world = await simulationWorld(opts.data, opts.seed, opts.promotions);
        const settings = { exploration: opts.exploration };
        const progress = new Progress('simulate', opts.impressions * opts.policy.length, 'impressions');
        const result = simulatePromotions(world.shoppers, world.catalogue, world.response, {
          impressions: opts.impressions,
          policies: opts.policy,
          seed: opts.seed,
          settings,
          onProgress: (done) => progress.update(done),
        });
        progress.finish();
        if (opts.json) console.log(JSON.stringify({ data: opts.data, ...result }, null, 2));
        else printSimulation(result, opts.data);
        if (opts.report) {
          const html = simulationReport(result, `Promotion policies on ${opts.data}`).replace(
            '<meta charset="utf-8">',
            `<meta charset="utf-8">${REPORT_MARK}`,
          );
          await writeFileAtomically(opts.report, html);
          if (!opts.json) console.log(`\nreport: ${opts.report}`);
        }
        if (opts.log) {
          const rows = logDecisions(world, opts.logPolicy, opts.logDecisions, opts.seed + 1, settings);
          const lines = rows.map((r) =>
            [
              world.shoppers[r.shopper].id,
              r.context,
              csvField(r.arms!.join('|')),
              r.action,
              r.reward.toFixed(4),
              r.propensity.toFixed(6),
            ].join(','),
          );
          await writeFileAtomically(opts.log, `${LOG_HEADER}\n${lines.join('\n')}\n`);
          if (!opts.json) console.log(`log: ${opts.log} (${rows.length} decisions by ${opts.logPolicy})`);
        }
      },
    );
  registerPromotionsEvaluate(promotions);
}
