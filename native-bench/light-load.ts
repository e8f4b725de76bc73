/**
 * Light traffic: the same build served twice at once on the bench bundle, once with the main
 * thread answering requests that find every worker idle (`--inline-below`, default 100/s) and
 * once without (`--inline-below 0`), each rate alternating between the two so both see the same
 * machine. Open-loop recommend traffic; the client's percentiles (from the intended send times),
 * the server's own, and the breakdown's hand-off stages.
 *
 *   npm run bench:light -- [--rates 20,50,100,200] [--seconds 20] [--rounds 3] [--inline-below 100]
 *
 * Prints a table and writes JSON to bench-results/.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from '../src/load/engine.js';
import { openTarget } from '../src/load/target.js';
import { startServerProcess, stopServerProcess } from '../test/helpers/server-process.js';
import { benchShoppers, ensureBenchBundle, recommendTraffic } from './bench-bundle.js';
import { checkMachine } from './machine-check.js';
import { median } from './median.js';
import { stageBreakdown } from './stage-breakdown.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    users: { type: 'string', default: '20000' },
    candidates: { type: 'string', default: '200' },
    rates: { type: 'string', default: '20,50,100,200' },
    seconds: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    'inline-below': { type: 'string', default: '100' },
  },
});
const rates = args.rates.split(',').map(Number);
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const below = Number(args['inline-below']);
if (rates.some((r) => !(r > 0)) || !(seconds > 0) || !(rounds >= 1) || !(below > 0))
  throw new Error('--rates, --seconds, --rounds and --inline-below take positive numbers');

const machine = await checkMachine();
const { bundle } = await ensureBenchBundle(Number(args.items), Number(args.users), Number(args.candidates));
const userIds = benchShoppers(bundle);

interface Server {
  name: string;
  child: ChildProcess;
  port: number;
}

/** Ready once the main thread's model has loaded (logged at info), or at once without one. */
async function start(name: string, inlineBelow: number): Promise<Server> {
  const argv = [resolve('dist/cli/main.js'), 'serve', '--bundle', bundle, '--port', '0', '--clock', 'bundle'];
  argv.push('--inline-below', String(inlineBelow), '--log-level', inlineBelow > 0 ? 'info' : 'warn');
  const ready =
    inlineBelow > 0 ? /(?=[\s\S]*main thread's model is ready)[\s\S]*?"port":(\d+)/ : /on http:\/\/127\.0\.0\.1:(\d+)/;
  return { name, ...(await startServerProcess(argv, ready)) };
}

const servers = [await start('workers only', 0), await start(`main thread under ${below}/s`, below)];
const traffic = recommendTraffic(userIds, Number(args.candidates));

interface Row {
  server: string;
  round: number;
  rate: number;
  clientMs: { p50: number; p99: number };
  serverMs: { p50: number; p99: number };
  handoffMeanMs?: number;
  backMeanMs?: number;
  inline: number;
}

const inlineCount = async (port: number): Promise<number> =>
  Number(
    /vitrine_inline_requests_total (\d+)/.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1],
  );

const rows: Row[] = [];
try {
  for (let round = 1; round <= rounds; round++)
    // Alternating which goes first, so neither always follows the other's phase.
    for (const rate of rates)
      for (const s of round % 2 === 1 ? servers : [...servers].reverse()) {
        const target = await openTarget({
          url: `ws://127.0.0.1:${s.port}/ws`,
          connections: 32,
          codec: 'msgpack',
          timeoutMs: 10_000,
        });
        await runLoad(target, { rate, seconds: 2, warmupSeconds: 0, traffic });
        const before = await inlineCount(s.port);
        const { value, stages } = await stageBreakdown(s.port, 'recommend', () =>
          runLoad(target, { rate, seconds, warmupSeconds: 0, traffic }),
        );
        await target.close();
        const o = value.overall;
        rows.push({
          server: s.name,
          round,
          rate,
          clientMs: { p50: o.p50, p99: o.p99 },
          serverMs: { p50: o.server.p50, p99: o.server.p99 },
          handoffMeanMs: stages.handoff?.meanMs,
          backMeanMs: stages.back?.meanMs,
          inline: (await inlineCount(s.port)) - before,
        });
        const r = rows[rows.length - 1];
        process.stderr.write(
          `round ${round} ${rate}/s ${s.name}: client p50 ${r.clientMs.p50} p99 ${r.clientMs.p99} ms, server p50 ${r.serverMs.p50} p99 ${r.serverMs.p99} ms, served by the main thread ${r.inline}\n`,
        );
      }
} finally {
  await Promise.all(servers.map((s) => stopServerProcess(s.child)));
}

console.log(
  `\nlight traffic, bench bundle (${args.items} items), ${rounds} rounds of ${seconds} s a rate; medians over rounds, ms:`,
);
console.log('rate/s | server | client p50 | client p99 | server p50 | server p99 | main thread served');
for (const rate of rates)
  for (const s of servers) {
    const rs = rows.filter((r) => r.rate === rate && r.server === s.name);
    const m = (f: (r: Row) => number): string => median(rs.map(f)).toFixed(2);
    const share = rs.reduce((a, r) => a + r.inline, 0) / (rs.length * rate * seconds);
    console.log(
      `${rate} | ${s.name} | ${m((r) => r.clientMs.p50)} | ${m((r) => r.clientMs.p99)} | ${m((r) => r.serverMs.p50)} | ${m((r) => r.serverMs.p99)} | ${(100 * share).toFixed(0)}%`,
    );
  }
const inputs = {
  items: Number(args.items),
  users: Number(args.users),
  rates,
  seconds,
  rounds,
  inlineBelow: below,
  machine,
};
mkdirSync('bench-results', { recursive: true });
const file = join('bench-results', `light-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ inputs, rows }, null, 2)}\n`);
console.log(`\nwritten ${file}`);
