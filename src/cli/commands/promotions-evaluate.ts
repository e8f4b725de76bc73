import type { Command } from 'commander';
import { DataError } from '../../data/errors.js';
import { FieldReader } from '../../data/fields.js';
import { type ColumnSpec, readTable } from '../../data/table.js';
import { DEFAULT_BANDIT } from '../../promotions/bandit.js';
import { evaluateOffPolicy, type LoggedRow, type OffPolicyResult } from '../../promotions/ope.js';
import { printTable } from '../../util/table.js';
import { floatArg, intArg, requireOptions } from '../options.js';

const COLUMNS: ColumnSpec[] = [
  { name: 'action', aliases: ['arm', 'promotion'], required: true },
  { name: 'reward', aliases: ['net_revenue', 'value'], required: true },
  { name: 'propensity', aliases: ['probability', 'p'], required: true },
  { name: 'eligible', aliases: ['arms', 'actions'], required: false },
];
/** Columns that identify a decision rather than describe its context. */
const NOT_CONTEXT = new Set(['user', 'user_id', 'decision', 'decision_id', 'ts', 'timestamp', 'time', 'id']);
/** More rows than this would not fit the evaluation's per-row arrays comfortably; no campaign log needs it. */
const MAX_ROWS = 5_000_000;

/** Reads a decision log: every row checked, errors naming the file, line and field. */
export async function readDecisionLog(
  file: string,
  context?: string[],
): Promise<{ rows: LoggedRow[]; context: string[] }> {
  const rows: LoggedRow[] = [];
  let columns: string[] | undefined = context;
  for await (const batch of readTable(file, COLUMNS, undefined, 'decision log')) {
    for (const r of batch) {
      const f = new FieldReader(file, r.line);
      columns ??= r.extra.map(([k]) => k).filter((k) => !NOT_CONTEXT.has(k));
      const extra = new Map(r.extra);
      for (const c of columns) if (!extra.has(c)) f.fail(c, 'is missing (a context column named by --context)');
      const action = f.requiredString('action', r.known.action);
      const reward = f.requiredNumber('reward', r.known.reward);
      const propensity = f.requiredNumber('propensity', r.known.propensity);
      if (!(propensity > 0 && propensity <= 1))
        f.fail('propensity', `must be above 0 and at most 1, got ${propensity}`);
      const eligible = f.optionalString('eligible', r.known.eligible)?.split('|');
      if (eligible && !eligible.includes(action))
        f.fail('action', `"${action}" is not among the eligible actions (${eligible.join('|')})`);
      rows.push({
        context: columns.map((c) => String(extra.get(c) ?? '')).join('|'),
        arms: eligible,
        action,
        reward,
        propensity,
      });
      if (rows.length > MAX_ROWS) throw new DataError(file, r.line, undefined, `more than ${MAX_ROWS} decisions`);
    }
  }
  return { rows, context: columns ?? [] };
}

function printOffPolicy(r: OffPolicyResult, file: string, context: string[]): void {
  const row = (name: string, e: OffPolicyResult['ips']): (string | number)[] => [
    name,
    Number(e.value.toFixed(4)),
    `[${e.low.toFixed(4)}, ${e.high.toFixed(4)}]`,
  ];
  printTable(
    `off-policy evaluation of Thompson sampling on ${file}: ${r.rows} decisions, ${r.contexts} contexts (${context.join(', ') || 'none'}), ${r.actions.length} actions; learnt from the first ${r.learntFrom}, judged on the ${r.evaluated} after`,
    [
      row('logging policy (as logged)', r.logging),
      row('Thompson sampling, IPS', r.ips),
      row('Thompson sampling, self-normalised IPS', r.snips),
      row('Thompson sampling, doubly robust', r.dr),
    ],
    ['policy and estimator', 'reward per decision', '95% interval'],
  );
  console.log(
    `\neffective sample size: ${Math.round(r.effectiveSampleSize)} of ${r.rows} decisions (how many the weighted estimates are worth)`,
  );
}

export function registerPromotionsEvaluate(promotions: Command): void {
  requireOptions(promotions.command('evaluate'), 'log')
    .description('estimate from logged decisions what Thompson sampling would have earned (IPS, SNIPS, doubly robust)')
    .option('--log <file>', 'decisions (CSV, TSV or JSONL): context columns, action, reward, propensity[, eligible]')
    .option(
      '--context <columns>',
      'the context columns, comma-separated (default: every column but action, reward, propensity, eligible and ids)',
      (v: string) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
    )
    .option(
      '--learn-share <share>',
      'the share of the log, from its start, the evaluated policy learns from (the rest judges it)',
      floatArg(0.05, 0.95),
      0.5,
    )
    .option(
      '--exploration <share>',
      'the exploration floor of the evaluated policy',
      floatArg(0, 1),
      DEFAULT_BANDIT.exploration,
    )
    .option('--seed <n>', "the Monte Carlo draws of the policy's choice probabilities", intArg(0, 0xffffffff), 42)
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      '\nThe reward is the net revenue a decision earned (0 when no order followed); the propensity is the\nchance the logging policy had of taking the logged action. Example:\n  vitrine promotions simulate --data synthetic:small --impressions 1000 --policy none --log decisions.csv\n  vitrine promotions evaluate --log decisions.csv',
    )
    .action(
      async (opts: {
        log: string;
        context?: string[];
        learnShare: number;
        exploration: number;
        seed: number;
        json?: boolean;
      }) => {
        const { rows, context } = await readDecisionLog(opts.log, opts.context);
        if (rows.length < 20)
          throw new DataError(
            opts.log,
            0,
            undefined,
            `${rows.length} decisions; at least 20 are needed to learn from some and judge on the rest`,
          );
        const result = evaluateOffPolicy(rows, {
          settings: { exploration: opts.exploration },
          learnShare: opts.learnShare,
          seed: opts.seed,
        });
        if (opts.json) console.log(JSON.stringify({ log: opts.log, context, ...result }, null, 2));
        else printOffPolicy(result, opts.log, context);
      },
    );
}
