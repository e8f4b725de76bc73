/**
 * Hot reloads under traffic: the bench bundle served from a bundle directory of two versions (links
 * to the same files), open-loop recommend traffic at a steady rate, and in each round a phase
 * without reloads beside a phase of the same length with two (`POST /admin/reload`, v1 then v2).
 * The client's percentiles (from the intended send times), refusals by code, and the slowest
 * `/healthz` from a separate poller process (every 20 ms; its first fetch, which loads undici, is
 * not counted).
 *
 *   npm run bench:reload -- [--rate 200] [--seconds 20] [--rounds 3]
 *
 * Prints a table and writes JSON to bench-results/.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from '../src/load/engine.js';
import { openTarget } from '../src/load/target.js';
import { startServerProcess, stopServerProcess } from '../test/helpers/server-process.js';
import { benchShoppers, ensureBenchBundle, recommendTraffic } from './bench-bundle.js';
import { checkMachine } from './machine-check.js';
import { median } from './median.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    users: { type: 'string', default: '20000' },
    candidates: { type: 'string', default: '200' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
if (!(rate > 0) || !(seconds >= 10) || !(rounds >= 1))
  throw new Error('--rate and --rounds take positive numbers, --seconds at least 10');

const machine = await checkMachine();
const { bundle } = await ensureBenchBundle(Number(args.items), Number(args.users), Number(args.candidates));
const userIds = benchShoppers(bundle);
const dir = mkdtempSync(join(tmpdir(), 'vitrine-reload-'));
for (const v of ['v1', 'v2']) symlinkSync(resolve(bundle), join(dir, v));

const token = 'bench-reload';
const argv = [resolve('dist/cli/main.js'), 'serve', '--bundle', dir, '--port', '0', '--clock', 'bundle'];
const { child, port } = await startServerProcess(
  [...argv, '--admin-token', token, '--log-level', 'info'],
  /(?=[\s\S]*main thread's model is ready)[\s\S]*?"port":(\d+)/,
);
const traffic = recommendTraffic(userIds, Number(args.candidates));

/** Polls /healthz every 20 ms in its own process until stopped; resolves to the slowest answer, ms. */
function healthzPoller(): { stop: () => Promise<number> } {
  const script = `const u='http://127.0.0.1:${port}/healthz';let max=0,stop=false;process.on('message',()=>{stop=true});
(async()=>{await fetch(u);while(!stop){const t=performance.now();await fetch(u);max=Math.max(max,performance.now()-t);await new Promise(r=>setTimeout(r,20));}process.send(max);process.exit(0);})();`;
  const p: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const done = new Promise<number>((res) => p.once('message', (m) => res(Number(m))));
  return { stop: () => (p.send('stop'), done) };
}

async function reload(version: string): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}/admin/reload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ version }),
  });
  if (r.status !== 200) throw new Error(`reload to ${version}: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { serverMs: number }).serverMs;
}

interface Row {
  phase: 'steady' | 'reloading';
  round: number;
  p50: number;
  p99: number;
  max: number;
  requests: number;
  refused: Record<string, number>;
  healthzMaxMs: number;
  reloadMs: number[];
}

const rows: Row[] = [];
try {
  const target = await openTarget({
    url: `ws://127.0.0.1:${port}/ws`,
    connections: 32,
    codec: 'msgpack',
    timeoutMs: 10_000,
  });
  await runLoad(target, { rate, seconds: 2, warmupSeconds: 0, traffic });
  for (let round = 1; round <= rounds; round++)
    for (const phase of ['steady', 'reloading'] as const) {
      const poller = healthzPoller();
      const reloads: Promise<number>[] = [];
      // Reloads at a tenth and at four tenths of the phase: on two cores one takes ~5-7 s with the
      // main thread's model after it, so the second is over before the phase is.
      const timers =
        phase === 'reloading'
          ? ['v1', 'v2'].map((v, j) => setTimeout(() => reloads.push(reload(v)), seconds * 1000 * (0.1 + 0.3 * j)))
          : [];
      const result = await runLoad(target, { rate, seconds, warmupSeconds: 0, traffic });
      timers.forEach(clearTimeout);
      const reloadMs = await Promise.all(reloads);
      // The old pools closed and the main thread's model loaded before the next phase.
      await new Promise((r) => setTimeout(r, 3000));
      const o = result.overall;
      rows.push({
        phase,
        round,
        p50: o.p50,
        p99: o.p99,
        max: o.max,
        requests: o.count,
        refused: o.errors,
        healthzMaxMs: Math.round(await poller.stop()),
        reloadMs,
      });
      const r = rows[rows.length - 1];
      process.stderr.write(
        `round ${round} ${phase}: p50 ${r.p50} p99 ${r.p99} max ${r.max} ms, refused ${JSON.stringify(r.refused)}, /healthz slowest ${r.healthzMaxMs} ms\n`,
      );
    }
  await target.close();
} finally {
  await stopServerProcess(child);
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `\nhot reloads under ${rate} recommend/s, bench bundle (${args.items} items), ${rounds} rounds of ${seconds} s a phase; medians over rounds:`,
);
console.log('phase | p50 ms | p99 ms | max ms | refused | /healthz slowest ms');
for (const phase of ['steady', 'reloading'] as const) {
  const rs = rows.filter((r) => r.phase === phase);
  const m = (f: (r: Row) => number): string => median(rs.map(f)).toFixed(1);
  const refused = (r: Row): number => Object.values(r.refused).reduce((a, b) => a + b, 0);
  console.log(
    `${phase} | ${m((r) => r.p50)} | ${m((r) => r.p99)} | ${m((r) => r.max)} | ${m(refused)} of ${m((r) => r.requests)} | ${m((r) => r.healthzMaxMs)}`,
  );
}
const inputs = { items: Number(args.items), users: Number(args.users), rate, seconds, rounds, machine };
mkdirSync('bench-results', { recursive: true });
const file = join('bench-results', `reload-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ inputs, rows }, null, 2)}\n`);
console.log(`\nwritten ${file}`);
