/**
 * The overload envelope: Vitrine against the naive single-process server (native-bench/baseline-server.ts)
 * on the bench bundle, measured the same way in one run, through `vitrine loadtest`'s engine.
 *
 *   npm run bench:envelope -- [--slo-ms 10] [--step-seconds 5] [--seconds 10] [--connections 32] [--slow-readers 16]
 *                              [--max-rss-mib 8192]
 *
 * Per server: the highest open-loop rate whose p99 meets the objective (stepped as `loadtest --find-max`
 * does), p50/p99 at a tenth and at half of it, goodput and the admitted requests' p99 at 2× and 10× it,
 * /healthz's slowest answer while overloaded, and the server's memory while clients that never read
 * their replies keep sending. Prints a table and writes JSON to bench-results/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { LoadResult, Traffic } from '../src/load/engine.js';
import { runLoad } from '../src/load/engine.js';
import { findMax } from '../src/load/find-max.js';
import { openTarget } from '../src/load/target.js';
import { Rng } from '../src/util/rng.js';
import { benchShoppers, ensureBenchBundle } from './bench-bundle.js';
import { checkMachine } from './machine-check.js';
import { startServerProcess, stopServerProcess } from '../test/helpers/server-process.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    users: { type: 'string', default: '20000' },
    candidates: { type: 'string', default: '200' },
    'slo-ms': { type: 'string', default: '10' },
    'step-seconds': { type: 'string', default: '5' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    'slow-readers': { type: 'string', default: '16' },
    'slow-requests': { type: 'string', default: '20000' },
    // The slow-reader phase ends early once the server's RSS passes this (the naive server grew to
    // 19 GiB on a 24 GiB machine): the figure is then "more than this".
    'max-rss-mib': { type: 'string', default: '8192' },
    only: { type: 'string' },
    // Skip the search and take this as the maximum rate (to try server settings quickly).
    max: { type: 'string' },
    // Extra flags for vitrine serve, space-separated (e.g. --serve-flags="--queue-deadline 10 --max-batch 4").
    'serve-flags': { type: 'string', default: '' },
  },
});
const num = (k: keyof typeof args): number => Number(args[k]);

interface Server {
  name: string;
  codec: 'msgpack' | 'json';
  path: string;
  /** Whether it answers GET /healthz on its port. */
  probes: boolean;
  argv: (bundle: string) => string[];
  ready: RegExp;
}

const SERVERS: Server[] = [
  {
    name: 'vitrine',
    codec: 'msgpack',
    path: '/ws',
    probes: true,
    argv: (b) => [
      resolve('dist/cli/main.js'),
      'serve',
      '--bundle',
      b,
      '--port',
      '0',
      '--clock',
      'bundle',
      '--log-level',
      'warn',
    ],
    ready: /on http:\/\/127\.0\.0\.1:(\d+)/,
  },
  {
    name: 'baseline',
    codec: 'json',
    path: '',
    probes: false,
    argv: (b) => ['--import', 'tsx', resolve('native-bench/baseline-server.ts'), b, '0'],
    ready: /baseline listening on (\d+)/,
  },
];

const start = (s: Server, bundle: string) => startServerProcess(s.argv(bundle), s.ready);

const rssMiB = (pid: number): number =>
  Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);

/** A phase's /healthz figures, where the server has one. */
interface Healthz {
  healthzMaxMs?: number;
  healthzProbes?: number;
  /** The poller's first fetch, made before the phase (not counted in healthzMaxMs). */
  healthzColdMs?: number;
}

/** The /healthz figures as the printed table says them. */
const healthzText = (h: Healthz): string =>
  h.healthzMaxMs !== undefined
    ? `, /healthz slowest ${h.healthzMaxMs} ms of ${h.healthzProbes} (the poller's cold first fetch, not counted: ${h.healthzColdMs} ms)`
    : '';

/**
 * The slowest /healthz answer while `during` runs, polled every 50 ms from a process of its own: the
 * load generator's event loop is busy sending, and would add its own delays to the figure. The
 * poller's first fetch is made before `during` starts and not counted: it loads undici and compiles
 * it, 70-80 ms on an idle machine here and more on busy cores, which earlier runs took for the server's.
 */
async function healthzWhile<T>(port: number | undefined, during: () => Promise<T>): Promise<{ value: T } & Healthz> {
  if (port === undefined) return { value: await during() };
  const poller = spawn(process.execPath, ['-e', POLLER, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise<void>((r) =>
    poller.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) r();
    }),
  );
  const exited = new Promise((r) => poller.once('exit', r));
  await Promise.race([ready, exited]);
  const value = await during();
  poller.kill('SIGTERM');
  await exited;
  const last = out.trim().split('\n').pop() ?? '';
  const { max, probes, cold } = JSON.parse(last.startsWith('{') ? last : '{}') as Record<string, number | undefined>;
  return { value, ...(max !== undefined && { healthzMaxMs: max, healthzProbes: probes, healthzColdMs: cold }) };
}
const POLLER = `
const port = process.argv[1];
const probe = () =>
  fetch('http://127.0.0.1:' + port + '/healthz', { signal: AbortSignal.timeout(5000) })
    .then((r) => r.arrayBuffer())
    .catch(() => undefined);
let worst = 0, probes = 0, stop = false;
process.on('SIGTERM', () => (stop = true));
(async () => {
  const t = performance.now();
  await probe();
  const cold = performance.now() - t;
  console.log('ready');
  while (!stop) {
    const t0 = performance.now();
    await probe();
    worst = Math.max(worst, performance.now() - t0);
    probes++;
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log(JSON.stringify({ max: Number(worst.toFixed(1)), probes, cold: Number(cold.toFixed(1)) }));
})();`;

/** Clients that send and never read: each pauses its socket, then sends `requests` recommend calls. */
async function slowReaders(
  url: string,
  n: number,
  requests: number,
  users: string[],
  stop: () => boolean,
): Promise<() => void> {
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<WebSocket>((res, rej) => {
          const ws = new WebSocket(url);
          ws.once('open', () => res(ws));
          ws.once('error', rej);
        }),
    ),
  );
  for (const ws of sockets) {
    ws.on('error', () => undefined);
    // The ws library reads from this net.Socket; paused, nothing is read and the server's replies pile up.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }
  // In rounds, yielding between them, so the RSS sampler runs while requests go out and can stop
  // a server that grows past the cap (sent in one go, they took seconds in which nothing ran).
  for (let r = 0; r < requests && !stop(); r += 500) {
    for (const [j, ws] of sockets.entries())
      for (let q = r; q < Math.min(requests, r + 500); q++)
        ws.send(JSON.stringify({ id: q, call: 'recommend', user: users[(j * 7919 + q) % users.length], k: 10 }));
    await new Promise((w) => setImmediate(w));
  }
  return () => sockets.forEach((ws) => ws.terminate());
}

interface Envelope {
  max: number;
  /** The rate the other rows are fractions and multiples of: `max`, or 50/s when no step met the SLO. */
  base: number;
  steps: { rate: number; p99: number; met: boolean }[];
  low: Pick<LoadResult['overall'], 'p50' | 'p99'>;
  half: Pick<LoadResult['overall'], 'p50' | 'p99'> & { rate: number };
  overload: ({
    factor: number;
    offered: number;
    achieved: number;
    goodput: number;
    admittedP99: number;
    clientLateP99: number;
    admittedServerP99: number;
    errors: Record<string, number>;
  } & Healthz)[];
  slowReaders: { rssBeforeMiB: number; rssPeakMiB: number; capped: boolean } & Healthz;
  clientCpu: number;
}

async function measure(s: Server, bundle: string, users: string[]): Promise<Envelope> {
  const { child, port } = await start(s, bundle);
  const url = `ws://127.0.0.1:${port}${s.path}`;
  const rng = new Rng(9);
  const traffic: Traffic = {
    next: () => ({
      call: 'recommend',
      body: { user: users[rng.int(users.length)], k: 10, candidates: num('candidates') },
    }),
  };
  const target = await openTarget({ url, connections: num('connections'), codec: s.codec, timeoutMs: 5000 });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    const at = (rate: number, seconds: number, warmup = 1) =>
      runLoad(target, { rate, seconds, warmupSeconds: warmup, traffic });
    await runLoad(target, { depth: 2, seconds: 3, warmupSeconds: 0, traffic });
    const slo = { percentile: 'p99' as const, ms: num('slo-ms') };
    const found =
      args.max !== undefined
        ? { max: num('max'), steps: [] }
        : await findMax((rate) => at(rate, num('step-seconds')), slo, {
            start: 200,
            maxRate: 50_000,
            refine: 3,
            onStep: (st) =>
              process.stderr.write(
                `  ${s.name} ${st.rate}/s: p99 ${st.result.overall.p99} ms ${st.met ? 'met' : `missed (${st.missed})`}\n`,
              ),
          });
    const max = Math.max(found.max, 50);
    const low = (await at(Math.max(10, Math.round(max / 10)), num('seconds'))).overall;
    const half = (await at(Math.round(max / 2), num('seconds'))).overall;
    const overload: Envelope['overload'] = [];
    for (const factor of [2, 10]) {
      process.stderr.write(`  ${s.name} at ${factor}× (${factor * max}/s)...\n`);
      const { value: r, ...healthz } = await healthzWhile(
        s.probes ? port : undefined,
        // A second's warm-up, as every phase has: the figures are the overload's steady state. Its
        // first 100 ms are a burst to the server (queued under the ordinary deadline, by design).
        () => at(factor * max, num('seconds'), 1),
      );
      overload.push({
        factor,
        offered: factor * max,
        achieved: r.achievedRate,
        goodput: r.goodput,
        admittedP99: r.overall.admitted.p99,
        clientLateP99: r.sendLateness?.p99 ?? 0,
        admittedServerP99: r.overall.admitted.serverP99,
        errors: r.overall.errors,
        ...healthz,
      });
      await new Promise((r) => setTimeout(r, 3000)); // let the backlog clear before the next phase
    }
    const rssBeforeMiB = rssMiB(child.pid!);
    process.stderr.write(`  ${s.name}: ${num('slow-readers')} clients sending without reading...\n`);
    let rssPeakMiB = rssBeforeMiB;
    let capped = false;
    let stopEarly = (): void => undefined;
    const sampler = setInterval(() => {
      rssPeakMiB = Math.max(rssPeakMiB, rssMiB(child.pid!));
      if (rssPeakMiB > num('max-rss-mib') && !capped) {
        capped = true;
        stopEarly();
      }
    }, 100);
    // Cleared however the phase ends: left running, it would sample a killed server's RSS.
    const { value: release, ...healthz } = await healthzWhile(s.probes ? port : undefined, () =>
      slowReaders(url, num('slow-readers'), num('slow-requests'), users, () => capped).then(async (r) => {
        await new Promise<void>((w) => {
          stopEarly = w;
          if (capped) w();
          setTimeout(w, 8000);
        });
        return r;
      }),
    ).finally(() => clearInterval(sampler));
    release();
    const used = process.cpuUsage(cpu0);
    return {
      max: found.max,
      base: max,
      steps: found.steps.map((st) => ({ rate: st.rate, p99: st.result.overall.p99, met: st.met })),
      low: { p50: low.p50, p99: low.p99 },
      half: { rate: Math.round(max / 2), p50: half.p50, p99: half.p99 },
      overload,
      slowReaders: { rssBeforeMiB, rssPeakMiB, capped, ...healthz },
      clientCpu: Number(((used.user + used.system) / 1000 / (performance.now() - t0)).toFixed(2)),
    };
  } finally {
    // The server first: a naive one still working through its backlog never answers the target's
    // close handshakes, and waiting for them left it growing (to 23 GiB, this machine's all).
    await stopServerProcess(child, 'SIGKILL');
    await target.close();
  }
}

const { bundle } = await ensureBenchBundle(num('items'), num('users'), num('candidates'));
const users = benchShoppers(bundle);
const machine = await checkMachine();
const results: Record<string, Envelope> = {};
for (const s of SERVERS.filter((x) => !args.only || x.name === args.only)) {
  process.stderr.write(`measuring ${s.name}...\n`);
  results[s.name] = await measure(s, bundle, users);
}
const inputs = {
  items: num('items'),
  users: num('users'),
  candidates: num('candidates'),
  slo: `p99 <= ${num('slo-ms')} ms`,
  stepSeconds: num('step-seconds'),
  seconds: num('seconds'),
  connections: num('connections'),
  slowReaders: `${num('slow-readers')} connections × ${num('slow-requests')} requests, never read`,
  cores: cpus().length,
  machine,
};
console.log(`\noverload envelope, recommend on the bench bundle (${JSON.stringify(inputs)})`);
for (const [name, e] of Object.entries(results)) {
  console.log(
    `\n${name}: max rate at ${inputs.slo}: ${e.max}/s (steps ${e.steps.map((x) => `${x.rate}${x.met ? '✓' : '✗'}`).join(' ')})${e.base !== e.max ? `; the rows below take ${e.base}/s as the max, the least they use` : ''}`,
  );
  console.log(`  unloaded (${Math.max(10, Math.round(e.base / 10))}/s): p50 ${e.low.p50} ms, p99 ${e.low.p99} ms`);
  console.log(`  half max (${e.half.rate}/s): p50 ${e.half.p50} ms, p99 ${e.half.p99} ms`);
  for (const o of e.overload)
    console.log(
      `  ${o.factor}× max (${o.offered}/s offered, ${o.achieved}/s sent): goodput ${o.goodput}/s (${Math.round((100 * o.goodput) / e.base)}% of max), admitted p99 ${o.admittedP99} ms (${(o.admittedP99 / Math.max(0.001, e.low.p99)).toFixed(1)}× unloaded; server's own p99 ${o.admittedServerP99} ms; client sent late by p99 ${o.clientLateP99} ms), errors ${JSON.stringify(o.errors)}${healthzText(o)}`,
    );
  console.log(
    `  slow readers: RSS ${e.slowReaders.rssBeforeMiB} → peak ${e.slowReaders.rssPeakMiB} MiB${e.slowReaders.capped ? ` (stopped there: past --max-rss-mib ${num('max-rss-mib')})` : ''}${healthzText(e.slowReaders)}`,
  );
  console.log(`  load generator CPU: ${Math.round(e.clientCpu * 100)}% of a core over the run`);
}
mkdirSync('bench-results', { recursive: true });
const file = join('bench-results', `envelope-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ inputs, results }, null, 2)}\n`);
console.log(`JSON: ${file}`);
