import type { Command } from 'commander';
import { resolve } from 'node:path';
import { resolveBundleVersion } from '../../bundle/read.js';
import { compareRows, readRun } from '../../load/compare.js';
import { parseSlo, type Slo } from '../../load/find-max.js';
import { loadReport, REPORT_MARK } from '../../load/report.js';
import { type LoadRun, runLoadTest } from '../../load/run.js';
import { bundleTraffic, DEFAULT_MIX, discoveredTraffic, fileTraffic, type Mix, parseMix } from '../../load/traffic.js';
import { VitrineError } from '../../protocol/errors.js';
import { writeFileAtomically } from '../../util/atomic-file.js';
import { checkReplaceable } from '../../util/output-dir.js';
import { note, warn } from '../../util/progress.js';
import { printTable } from '../../util/table.js';
import { choiceArg, intArg, requireOptions } from '../options.js';

/** `30s`, `2m`, `500ms`, or plain seconds. */
function duration(flag: string): (v: string) => number {
  return (v: string) => {
    const m = /^([0-9.]+)\s*(ms|s|m)?$/.exec(v.trim());
    const x = m ? Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'm' ? 60 : 1) : Number.NaN;
    if (!(x > 0 && x <= 3600))
      throw new VitrineError('invalid_argument', `${flag}: "${v}" is not a duration up to an hour (30s, 2m, 500ms)`);
    return x;
  };
}

const isRunJson = (t: string): boolean => t.startsWith('{') && t.includes('"result"');

interface LoadtestFlags {
  url: string;
  connections: number;
  rate?: number;
  closed?: boolean;
  depth: number;
  duration: number;
  warmup: number;
  mix?: string;
  bundle?: string;
  requests?: string;
  codec: 'msgpack' | 'json';
  timeout: number;
  token?: string;
  seed: number;
  json?: string;
  report?: string;
  findMax?: boolean;
  slo?: string;
  startRate: number;
  maxRate: number;
  name?: string;
}

function printRun(run: LoadRun): void {
  const r = run.result;
  printTable(
    `${run.name}: ${r.mode} loop${r.offeredRate !== undefined ? `, offered ${r.offeredRate}/s` : ''}, achieved ${r.achievedRate}/s, goodput ${r.goodput}/s over ${r.seconds} s`,
    Object.entries({ all: r.overall, ...r.byCall }).map(([name, c]) => [
      name,
      c.count,
      c.ok,
      ...[c.p50, c.p90, c.p99, c.p999, c.max].map((x) => x.toFixed(2)),
      Object.entries(c.errors)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || '-',
    ]),
    ['call', 'requests', 'ok', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors'],
  );
  if (r.sendLateness)
    console.log(`client send lateness: p50 ${r.sendLateness.p50} ms, p99 ${r.sendLateness.p99} ms (included above)`);
  console.log(`load generator CPU: ${Math.round(run.client.cpuShare * 100)}% of a core`);
  if (run.findMax)
    console.log(
      `highest rate meeting ${run.findMax.slo.percentile} ≤ ${run.findMax.slo.ms} ms: ${run.findMax.max}/s (steps: ${run.findMax.steps.map((s) => `${s.rate}${s.met ? '✓' : '✗'}`).join(' ')})`,
    );
}

async function loadtest(o: LoadtestFlags): Promise<void> {
  if (!/^(wss?|https?):\/\//.test(o.url))
    throw new VitrineError('invalid_argument', `--url: "${o.url}" is not ws://, wss://, http:// or https://`);
  if (o.closed && o.rate !== undefined)
    throw new VitrineError('invalid_argument', '--closed and --rate: give one of them');
  if (!o.closed && o.rate === undefined && !o.findMax)
    throw new VitrineError('invalid_argument', 'give --rate R (open loop), --closed, or --find-max --slo p99=10ms');
  if (o.findMax && !o.slo) throw new VitrineError('invalid_argument', '--find-max needs --slo (e.g. p99=10ms)');
  if (o.bundle && o.requests) throw new VitrineError('invalid_argument', '--bundle and --requests: give one of them');
  if (o.json) checkReplaceable('--json', o.json, 'vitrine loadtest', isRunJson);
  if (o.report) checkReplaceable('--report', o.report, 'vitrine loadtest', (t) => t.includes(REPORT_MARK));
  const slo: Slo | undefined = o.slo ? parseSlo(o.slo) : undefined;
  const mix: Mix = o.mix ? parseMix(o.mix) : DEFAULT_MIX;
  const traffic = o.bundle
    ? bundleTraffic(resolveBundleVersion(o.bundle), mix, o.seed)
    : o.requests
      ? fileTraffic(o.requests)
      : discoveredTraffic(mix, o.seed);
  if (!o.bundle && !o.requests)
    note(
      'no --bundle or --requests: new shoppers, and items learned from the replies (--bundle DIR for returning shoppers and the whole catalogue)',
    );
  const inputs = {
    url: o.url,
    mode: o.closed
      ? `closed, ${o.depth} in flight per connection`
      : o.findMax
        ? `find max (${o.slo})`
        : `open, ${o.rate}/s`,
    connections: o.connections,
    duration: `${o.duration} s`,
    warmup: `${o.warmup} s`,
    codec: o.codec,
    traffic: o.bundle
      ? { bundle: resolve(o.bundle), mix }
      : o.requests
        ? { requests: resolve(o.requests) }
        : { discovered: 'new shoppers, items learned from the replies', mix },
    timeoutMs: o.timeout * 1000,
    seed: o.seed,
    at: new Date().toISOString(),
  };
  note(
    `load test of ${o.url}: ${inputs.mode}, ${o.connections} connections, ${o.duration} s after ${o.warmup} s of warm-up`,
  );
  const run = await runLoadTest({
    name: o.name ?? o.url,
    url: o.url,
    connections: o.connections,
    codec: o.codec,
    timeoutMs: o.timeout * 1000,
    token: o.token,
    rate: o.rate,
    depth: o.closed ? o.depth : undefined,
    seconds: o.duration,
    warmupSeconds: o.warmup,
    traffic,
    ...(o.findMax && slo && { findMax: { slo, start: o.startRate, maxRate: o.maxRate, stepSeconds: o.duration } }),
    onProgress: (m) => note(`find max: ${m}`),
    inputs,
  });
  printRun(run);
  if (run.client.warning) warn(run.client.warning);
  if (o.json) await writeFileAtomically(o.json, `${JSON.stringify(run, null, 2)}\n`);
  if (o.report) await writeFileAtomically(o.report, loadReport([run], `Load test of ${run.name}`));
  for (const [flag, path] of [
    ['JSON', o.json],
    ['report', o.report],
  ] as const)
    if (path) console.log(`${flag}: ${path}`);
}

export function registerLoadtest(program: Command): void {
  const cmd = requireOptions(program.command('loadtest'), 'url')
    .description(
      'load-test a deployment over WebSocket or HTTP: latency per call (HDR), throughput, errors; HTML report',
    )
    .option('--url <url>', 'ws://HOST:PORT/ws (or http://HOST:PORT)')
    .option('--connections <n>', 'connections', intArg(1, 10_000), 16)
    .option('--rate <r>', 'open loop: requests per second on a fixed schedule', intArg(1, 10_000_000))
    .option('--closed', 'closed loop instead: every connection keeps --depth requests in flight')
    .option('--depth <n>', 'closed loop: requests in flight per connection', intArg(1, 1024), 4)
    .option('--duration <t>', 'measured time (30s, 2m)', duration('--duration'), 30)
    .option('--warmup <t>', 'unmeasured time first', duration('--warmup'), 5)
    .option('--mix <shares>', 'calls and their shares (default recommend=0.7,event=0.2,similar=0.05,promotion=0.05)')
    .option(
      '--bundle <dir>',
      "traffic from a bundle's shoppers and items (returning and new shoppers, long-tail items)",
    )
    .option('--requests <file>', 'replay recorded requests (JSONL, one {"call", ...} per line)')
    .addHelpText(
      'after',
      '\nTraffic: --bundle, --requests, or neither (new shoppers, and items learned from the replies).',
    )
    .option('--codec <c>', 'msgpack or json frames', choiceArg(['msgpack', 'json'] as const), 'msgpack' as const)
    .option('--timeout <t>', 'a request without a reply after this counts as client_timeout', duration('--timeout'), 5)
    .option('--token <token>', 'the server client token')
    .option('--seed <n>', 'the traffic (same seed, same requests)', intArg(0, 0xffffffff), 1)
    .option('--json <file>', 'write the run as JSON (for compare)')
    .option('--report <file.html>', 'write an HTML report')
    .option('--find-max', 'step the open-loop rate up to the highest that meets --slo')
    .option('--slo <objective>', 'with --find-max: a percentile and a time, e.g. p99=10ms')
    .option('--start-rate <r>', 'with --find-max: the first rate tried', intArg(1, 10_000_000), 100)
    .option('--max-rate <r>', 'with --find-max: the highest rate tried', intArg(1, 10_000_000), 1_000_000)
    .option('--name <name>', 'what to call this run in reports (default: the URL)')
    .addHelpText(
      'after',
      '\nExamples:\n  vitrine loadtest --url ws://127.0.0.1:8080/ws --bundle models/shop --rate 200 --duration 10s --json out.json --report out.html\n  vitrine loadtest --url ws://127.0.0.1:8080/ws --bundle models/shop --find-max --slo p99=10ms\n  vitrine loadtest compare before.json after.json --report compare.html',
    )
    .action((o: LoadtestFlags) => loadtest(o));
  cmd
    .command('compare')
    .description('two runs (their --json files) side by side')
    .argument('<a>', 'the first run')
    .argument('<b>', 'the second run')
    .option('--report <file.html>', 'write both runs in one HTML report')
    .action(async (a: string, b: string, _opts: unknown, self: Command) => {
      // Also when given before `compare`, where the parent command would take it.
      const opts = self.optsWithGlobals<{ report?: string }>();
      if (opts.report) checkReplaceable('--report', opts.report, 'vitrine loadtest', (t) => t.includes(REPORT_MARK));
      const [x, y] = [readRun(a), readRun(b)];
      printTable(`${x.name} (a) against ${y.name} (b)`, compareRows(x, y), ['', 'a', 'b', 'b / a']);
      if (opts.report) {
        await writeFileAtomically(opts.report, loadReport([x, y], `${x.name} against ${y.name}`));
        console.log(`report: ${opts.report}`);
      }
    });
}
