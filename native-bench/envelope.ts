/**
 * The overload envelope: Vitrine against the naive single-process server (native-bench/baseline-server.ts)
 * on the bench bundle, measured the same way in one run, through `vitrine loadtest`'s engine.
 *
 *   npm run bench:envelope -- [--slo-ms 10] [--step-seconds 5] [--seconds 10] [--connections 32] [--slow-readers 16]
 *                              [--max-rss-mib 8192] [--redis] [--only vitrine] [--max RATE] [--serve-flags "..."]
 *
 * Per server: the highest open-loop rate whose p99 meets the objective (stepped as `loadtest --find-max`
 * does), p50/p99 at a tenth and at half of it, goodput and the admitted requests' p99 at 2× and 10× it,
 * /healthz's slowest answer while overloaded, and the server's memory while clients that never read
 * their replies keep sending. Prints a table and writes JSON to bench-results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { LoadResult } from '../src/load/engine.js';
import { runLoad } from '../src/load/engine.js';
import { findMax } from '../src/load/find-max.js';
import { openTarget } from '../src/load/target.js';
import { benchShoppers, ensureBenchBundle, recommendTraffic } from './bench-bundle.js';
import { checkMachine } from './machine-check.js';
import { type Healthz, healthzText, healthzWhile, rssMiB, slowReaders } from './overload-probes.js';
import { describeThreadCpu, type ThreadCpu, threadCpu } from './thread-cpu.js';
import { TestRedis } from '../test/helpers/redis.js';
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
    // Vitrine keeps shoppers' state in a Redis of its own (Debian's redis-server, started here) instead
    // of its embedded store; the overload rows then also count the commands Redis was sent.
    redis: { type: 'boolean', default: false },
  },
});
const num = (k: keyof typeof args): number => Number(args[k]);

interface Server {
  name: string;
  codec: 'msgpack' | 'json';
  path: string;
  /** Whether it answers GET /healthz on its port. */
  probes: boolean;
  argv: (bundle: string, store?: string) => string[];
  ready: RegExp;
}

const SERVERS: Server[] = [
  {
    name: 'vitrine',
    codec: 'msgpack',
    path: '/ws',
    probes: true,
    argv: (b, store) => [
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
      ...(store ? ['--store', store] : []),
      ...args['serve-flags'].split(' ').filter(Boolean),
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

const start = (s: Server, bundle: string) => startServerProcess(s.argv(bundle, redis?.url), s.ready);

/** Commands Redis has processed so far (0 without one). */
const redisCommands = (): number =>
  Number(/total_commands_processed:(\d+)/.exec(redis?.cli('INFO', 'stats') ?? '')?.[1] ?? 0);

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
    /** With --redis: the commands Redis was sent during the phase (a refused request should send none). */
    storeCommands?: number;
    /** Where the two cores went: at 10× the load generator's own sending and reading is a large share. */
    cpu?: ThreadCpu;
  } & Healthz)[];
  slowReaders: { rssBeforeMiB: number; rssPeakMiB: number; capped: boolean } & Healthz;
  clientCpu: number;
}

async function measure(s: Server, bundle: string, users: string[]): Promise<Envelope> {
  const { child, port } = await start(s, bundle);
  const url = `ws://127.0.0.1:${port}${s.path}`;
  const traffic = recommendTraffic(users, num('candidates'));
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
      const commands = redisCommands();
      const { value: measured, ...healthz } = await healthzWhile(s.probes ? port : undefined, () =>
        // A second's warm-up, as every phase has: the figures are the overload's steady state. Its
        // first 100 ms are a burst to the server (queued under the ordinary deadline, by design).
        threadCpu(
          child.pid,
          () => at(factor * max, num('seconds'), 1),
          (x) => x.overall.count,
        ),
      );
      const { value: r, cpu } = measured;
      overload.push({
        factor,
        offered: factor * max,
        achieved: r.achievedRate,
        goodput: r.goodput,
        admittedP99: r.overall.admitted.p99,
        clientLateP99: r.sendLateness?.p99 ?? 0,
        admittedServerP99: r.overall.admitted.serverP99,
        errors: r.overall.errors,
        ...(cpu && { cpu }),
        ...(redis && s.probes && { storeCommands: redisCommands() - commands }),
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

const redis = args.redis ? await TestRedis.start() : undefined;
const { bundle } = await ensureBenchBundle(num('items'), num('users'), num('candidates'));
const users = benchShoppers(bundle);
const machine = await checkMachine();
const results: Record<string, Envelope> = {};
for (const s of SERVERS.filter((x) => !args.only || x.name === args.only)) {
  process.stderr.write(`measuring ${s.name}...\n`);
  results[s.name] = await measure(s, bundle, users).finally(() => redis?.cli('FLUSHALL'));
}
await redis?.stop();
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
  store: redis ? 'redis (vitrine)' : 'embedded',
  ...(args['serve-flags'] && { serveFlags: args['serve-flags'] }),
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
      `  ${o.factor}× max (${o.offered}/s offered, ${o.achieved}/s sent): goodput ${o.goodput}/s (${Math.round((100 * o.goodput) / e.base)}% of max), admitted p99 ${o.admittedP99} ms (${(o.admittedP99 / Math.max(0.001, e.low.p99)).toFixed(1)}× unloaded; server's own p99 ${o.admittedServerP99} ms; client sent late by p99 ${o.clientLateP99} ms), errors ${JSON.stringify(o.errors)}${o.storeCommands !== undefined ? `, Redis commands ${o.storeCommands}` : ''}${healthzText(o)}${o.cpu ? `; ${describeThreadCpu(o.cpu)}` : ''}`,
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
