import type { Command } from 'commander';
import { readExperiments } from '../../experiments/config.js';
import { type ExperimentReport, type Lift, METRICS } from '../../experiments/report.js';
import { VitrineError } from '../../protocol/errors.js';
import { printTable } from '../../util/table.js';
import { registerExperimentsSimulate } from './experiments-simulate.js';

const pct = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : `${(100 * x).toFixed(digits)}%`;

/** "+3.1% [−0.4%, +6.7%] *": the relative lift with its always-valid interval, starred when it excludes zero. */
export function liftText(l: Lift | undefined): string {
  if (!l) return 'too few users, or no variation yet';
  const sign = (x: number | null): string => (x === null ? '-' : `${x >= 0 ? '+' : ''}${pct(x)}`);
  if (l.relative === null)
    return `${l.diff.toFixed(4)} [${l.lo.toFixed(4)}, ${l.hi.toFixed(4)}]${l.significant ? ' *' : ''}`;
  return `${sign(l.relative)} [${sign(l.relLo)}, ${sign(l.relHi)}]${l.significant ? ' *' : ''}`;
}

function printReport(r: ExperimentReport): void {
  const srm = r.srm.mismatch
    ? `SAMPLE RATIO MISMATCH (p = ${r.srm.pValue.toExponential(2)}): the split is not what the weights say; do not read the results`
    : `users split as weighted (SRM p = ${r.srm.pValue.toFixed(3)})`;
  printTable(
    `${r.name} (${r.active ? 'running' : 'stopped'}, ${pct(r.share, 0)} of shoppers, ${r.calls.join('+')}, outcomes within ${r.windowHours} h): ${srm}`,
    r.variants.map((v) => [
      `${v.name}${v.control ? ' (control)' : ''}`,
      v.users,
      v.exposures,
      pct(v.ctr, 2),
      pct(v.conversion, 2),
      v.revenuePerUser.toFixed(2),
      ...METRICS.map((m) => (v.control ? '' : liftText(v.vsControl?.[m]))),
    ]),
    ['variant', 'users', 'exposures', 'CTR', 'conversion', 'revenue/user', ...METRICS.map((m) => `lift ${m}`)],
  );
}

/** The server's /admin/experiments URL from what a user may give: its HTTP or WebSocket address. */
export function adminUrl(url: string, path: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new VitrineError('invalid_argument', `--url: "${url}" is not a URL (http://HOST:PORT)`);
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol))
    throw new VitrineError('invalid_argument', `--url: expected http(s):// or ws(s)://, got ${u.protocol}`);
  const scheme = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:';
  return `${scheme}//${u.host}${path}`;
}

async function fetchReports(url: string, token: string | undefined): Promise<ExperimentReport[]> {
  if (!token)
    throw new VitrineError(
      'invalid_argument',
      "--token (or VITRINE_ADMIN_TOKEN): the server's admin token is required",
    );
  const target = adminUrl(url, '/admin/experiments');
  let res: Response;
  try {
    res = await fetch(target, { headers: { authorization: `Bearer ${token}` } });
  } catch (e) {
    throw new VitrineError('unavailable', `cannot reach ${target}: ${(e as Error).cause ?? (e as Error).message}`);
  }
  const body = (await res.json().catch(() => undefined)) as
    | { result?: { experiments: ExperimentReport[] }; error?: { code: string; message: string } }
    | undefined;
  if (!body?.result)
    throw new VitrineError(
      body?.error?.code === 'unauthorized' ? 'unauthorized' : 'unavailable',
      `${target}: ${body?.error?.message ?? `HTTP ${res.status}`}`,
    );
  return body.result.experiments;
}

export function registerExperiments(program: Command): void {
  const cmd = program
    .command('experiments')
    .description("A/B experiments: check a file, read a running server's report, simulate one on the synthetic shop");
  cmd
    .command('check')
    .argument('<file>', 'an experiments file (JSON)')
    .description('check an experiments file as the server would, naming the first problem')
    .action((file: string) => {
      const f = readExperiments(file);
      for (const e of f.experiments)
        console.log(
          `${e.name}: ${e.active ? 'running' : 'stopped'}, ${pct(e.share, 0)} of shoppers, ${e.calls.join('+')}, variants ${e.variants.map((v) => `${v.name} (${v.weight})`).join(', ')}, control ${e.control}`,
        );
      console.log(`${file}: ${f.experiments.length} experiment(s), valid`);
    });
  cmd
    .command('report')
    .description(
      'the report of every experiment on a running server: users, exposures, CTR, conversion, revenue per user, lifts with always-valid 95% intervals, SRM check',
    )
    .requiredOption('--url <url>', 'the server (http://HOST:PORT or ws://HOST:PORT/ws)')
    .option('--token <token>', 'the admin token (default: VITRINE_ADMIN_TOKEN)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExample: vitrine experiments report --url http://127.0.0.1:8080 --token s3cret')
    .action(async (o: { url: string; token?: string; json?: boolean }) => {
      const reports = await fetchReports(o.url, o.token ?? process.env.VITRINE_ADMIN_TOKEN);
      if (o.json) return console.log(JSON.stringify({ experiments: reports }, null, 2));
      if (reports.length === 0) console.log('no experiments (start the server with --experiments FILE)');
      for (const r of reports) printReport(r);
      if (reports.length > 0) console.log(`\nintervals: ${reports[0].method}; * = the interval excludes zero`);
    });
  registerExperimentsSimulate(cmd);
}
