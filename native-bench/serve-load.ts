/**
 * Serving benchmark: recommend throughput and latency on a 100k-item synthetic bundle, Vitrine
 * (uWebSockets.js + piscina workers, msgpack) against the yardstick single-process ws + JSON server
 * doing the same work on its main thread, measured the same way in one run.
 *
 *   npm run bench:serve -- [--redis] [--items 100000] [--users 20000] [--seconds 10] [--connections 32] [--depth 4] [--max-batch 8] [--tasks-per-worker 2] [--repeat 1] [--node-flags="--max-semi-space-size=64"]
 *
 * Maximum throughput comes from a closed loop (every connection keeps `depth` requests in flight);
 * latency percentiles from an open loop at half of that rate, timed from each request's scheduled
 * send (no coordinated omission), and for Vitrine also at the baseline's half rate (equal load).
 * `--repeat N` alternates N rounds and prints the medians: single runs on a shared machine vary a
 * lot. Prints a table and writes JSON to bench-results/.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type LoadResult, runLoad, type Traffic } from '../src/load/engine.js';
import { openTarget } from '../src/load/target.js';
import { TestRedis } from '../test/helpers/redis.js';
import { benchShoppers, ensureBenchBundle, recommendTraffic } from './bench-bundle.js';
import { checkMachine } from './machine-check.js';
import { median } from './median.js';
import { startServerProcess, stopServerProcess } from '../test/helpers/server-process.js';
import { type StageFigures, stageBreakdown } from './stage-breakdown.js';
import { describeThreadCpu, type ThreadCpu, threadCpu } from './thread-cpu.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    users: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    depth: { type: 'string', default: '4' },
    workers: { type: 'string', default: String(cpus().length) },
    candidates: { type: 'string', default: '200' },
    'max-batch': { type: 'string', default: '8' },
    'tasks-per-worker': { type: 'string', default: '2' },
    // V8 flags for Vitrine's process, space-separated (e.g. --node-flags="--max-semi-space-size=32").
    'node-flags': { type: 'string', default: '' },
    repeat: { type: 'string', default: '1' },
    // Also Vitrine with its state in Redis (a redis-server started here, AOF fsynced on every write).
    redis: { type: 'boolean', default: false },
  },
});
const items = Number(args.items);
const users = Number(args.users);
const seconds = Number(args.seconds);
interface Target {
  name: string;
  codec: Codec;
  start: () => Promise<{ child: ChildProcess; port: number }>;
}

interface Measured {
  max: LatencySummary;
  half: LatencySummary;
  /** The rate offered in the half-rate open loop, requests/s. */
  halfRate: number;
  /** Open loop at another server's half rate, for p99 at equal load. */
  atRate?: LatencySummary;
  /** Vitrine's own breakdown of the half-rate and equal-load phases (vitrine_request_stage_seconds). */
  halfStages?: Record<string, StageFigures>;
  atRateStages?: Record<string, StageFigures>;
  /** The cores' use during the closed loop, the half-rate phase and the equal-load one (thread-cpu.ts). */
  maxCpu?: ThreadCpu;
  halfCpu?: ThreadCpu;
  atRateCpu?: ThreadCpu;
}

type Codec = 'msgpack' | 'json';

/** One phase's figures, as this benchmark prints and stores them. */
interface LatencySummary {
  count: number;
  errors: number;
  throughput: number;
  goodput: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  server: { p50: number; p99: number };
  sendLateness?: { p50: number; p99: number };
}

const summary = (r: LoadResult): LatencySummary => ({
  count: r.overall.count,
  errors: r.overall.count - r.overall.ok,
  throughput: r.achievedRate,
  goodput: r.goodput,
  p50: r.overall.p50,
  p90: r.overall.p90,
  p99: r.overall.p99,
  p999: r.overall.p999,
  max: r.overall.max,
  server: r.overall.server,
  ...(r.sendLateness && { sendLateness: r.sendLateness }),
});

/** One phase through the loadtest engine: its own connections, opened for it and closed after. */
async function phase(
  url: string,
  codec: Codec,
  connections: number,
  plan: { rate?: number; depth?: number; seconds: number },
  traffic: Traffic,
): Promise<LatencySummary> {
  const target = await openTarget({ url, connections, codec, timeoutMs: 10_000 });
  try {
    return summary(await runLoad(target, { ...plan, warmupSeconds: 0, traffic }));
  } finally {
    await target.close();
  }
}

async function measure(t: Target, userIds: string[], alsoAtRate?: number, atRateFirst = false): Promise<Measured> {
  const { child, port } = await t.start();
  const traffic = recommendTraffic(userIds, Number(args.candidates));
  const url = t.name.startsWith('vitrine') ? `ws://127.0.0.1:${port}/ws` : `ws://127.0.0.1:${port}`;
  try {
    // Warm up JIT, caches and worker pools before measuring.
    await phase(url, t.codec, 8, { depth: 2, seconds: 2 }, traffic);
    const connections = Number(args.connections);
    // Every measured phase also reads the cores' use meanwhile (thread-cpu.ts), per reply served.
    const measured = (plan: { rate?: number; depth?: number }) =>
      threadCpu(
        child.pid,
        () => phase(url, t.codec, connections, { ...plan, seconds }, traffic),
        (s) => s.count - s.errors,
      );
    const { value: max, cpu: maxCpu } = await measured({ depth: Number(args.depth) });
    // Successful replies only: a request refused `overloaded` comes back fast and is not throughput.
    const halfRate = Math.max(1, Math.round(max.goodput / 2));
    // Vitrine's open-loop phases also get its own stage breakdown.
    const open = async (rate: number) => {
      if (!t.name.startsWith('vitrine')) return { ...(await measured({ rate })), stages: undefined };
      const { value, stages } = await stageBreakdown(port, 'recommend', () => measured({ rate }));
      return { ...value, stages };
    };
    const openHalf = () => open(halfRate);
    const openAtRate = async () => (alsoAtRate === undefined ? undefined : open(alsoAtRate));
    // A server's tail grows with its uptime (see docs/benchmarks.md): the phase two servers are
    // compared in is the second one for both, the one right after the closed loop.
    let half: Awaited<ReturnType<typeof openHalf>>;
    let atRate: Awaited<ReturnType<typeof openAtRate>>;
    if (atRateFirst) {
      atRate = await openAtRate();
      half = await openHalf();
    } else {
      half = await openHalf();
      atRate = await openAtRate();
    }
    return {
      max,
      half: half.value,
      halfRate,
      atRate: atRate?.value,
      halfStages: half.stages,
      atRateStages: atRate?.stages,
      maxCpu,
      halfCpu: half.cpu,
      atRateCpu: atRate?.cpu,
    };
  } finally {
    await stopServerProcess(child);
  }
}

const { bundle } = await ensureBenchBundle(items, users, Number(args.candidates));
// Only the ids: the load generator shares the machine with the server, and a heap holding the
// whole data set (~220 MB) made its own garbage collections pause it for up to 10 ms.
const userIds = benchShoppers(bundle);
const cli = resolve('dist', 'cli', 'main.js');
const vitrineTarget = (name: string, extra: string[]): Target => ({
  name,
  codec: 'msgpack',
  start: () =>
    startServerProcess(
      [
        ...args['node-flags']!.split(' ').filter(Boolean),
        cli,
        'serve',
        '--bundle',
        bundle,
        '--port',
        '0',
        '--workers',
        args.workers!,
        '--max-batch',
        args['max-batch']!,
        '--tasks-per-worker',
        args['tasks-per-worker']!,
        '--clock',
        'bundle',
        '--log-level',
        'warn',
        // The closed loop holds connections × depth requests in flight, which at capacity wait ~40 ms
        // each (Little's law); under the default 50 ms queue deadline some would be refused and sent
        // again at once, measuring the refusal path instead of capacity (and the queue stands, so the
        // overload deadline would apply). Overload is bench:envelope's.
        '--queue-deadline',
        '1000',
        '--overload-deadline',
        '1000',
        ...extra,
      ],
      /on http:\/\/127\.0\.0\.1:(\d+)/,
    ),
});
const redis = args.redis ? await TestRedis.start({ appendfsync: 'always' }) : undefined;
const vitrine = vitrineTarget('vitrine', []);
const vitrineRedis = redis ? vitrineTarget('vitrine (Redis store)', ['--store', redis.url]) : undefined;
const baseline: Target = {
  name: 'baseline (ws + JSON, main thread)',
  codec: 'json',
  start: () =>
    startServerProcess(
      ['--import', 'tsx', resolve('native-bench', 'baseline-server.ts'), bundle, '0'],
      /baseline listening on (\d+)/,
    ),
};
interface Round {
  vitrine: Measured;
  baseline: Measured;
  /** Vitrine with its state in Redis (--redis), also at the embedded store's half rate. */
  redis?: Measured;
}
const machine = await checkMachine();
const rounds: Round[] = [];
const repeat = Number(args.repeat);
for (let r = 0; r < repeat; r++) {
  // The baseline goes first so Vitrine can also be measured at the baseline's half rate (equal load).
  process.stderr.write(`round ${r + 1}/${repeat}: measuring ${baseline.name}...\n`);
  const b = await measure(baseline, userIds);
  process.stderr.write(`round ${r + 1}/${repeat}: measuring ${vitrine.name}...\n`);
  const v = await measure(vitrine, userIds, b.halfRate);
  if (vitrineRedis) process.stderr.write(`round ${r + 1}/${repeat}: measuring ${vitrineRedis.name}...\n`);
  const withRedis = vitrineRedis ? await measure(vitrineRedis, userIds, v.halfRate, true) : undefined;
  rounds.push({ baseline: b, vitrine: v, ...(withRedis ? { redis: withRedis } : {}) });
}
await redis?.stop();

const inputs = {
  items,
  users,
  dims: 64,
  candidatesPerRequest: Number(args.candidates),
  ranker: 'MLP (ONNX)',
  k: 10,
  seconds,
  connections: Number(args.connections),
  depth: Number(args.depth),
  vitrineWorkers: Number(args.workers),
  vitrineMaxBatch: Number(args['max-batch']),
  vitrineTasksPerWorker: Number(args['tasks-per-worker']),
  cores: cpus().length,
  rounds: repeat,
  machine,
};
console.log(`\nrecommend on a ${items.toLocaleString()}-item synthetic bundle (${JSON.stringify(inputs)})`);
const row = (name: string, max: number, h: LatencySummary, errors: number): void =>
  console.log(
    `${name.padEnd(40)} ${String(max).padStart(9)} ${String(h.throughput).padStart(15)} ${h.p50.toFixed(2).padStart(7)} ${h.p90.toFixed(2).padStart(7)} ${h.p99.toFixed(2).padStart(7)} ${h.p999.toFixed(2).padStart(8)} ${h.max.toFixed(2).padStart(7)} ${h.server.p99.toFixed(2).padStart(11)} ${(h.sendLateness?.p99 ?? NaN).toFixed(2).padStart(11)} ${String(errors).padStart(6)}`,
  );
rounds.forEach(({ vitrine: v, baseline: b }, r) => {
  console.log(
    `\nround ${r + 1}                                   max ok/s   open-loop req/s  p50 ms  p90 ms  p99 ms  p99.9 ms  max ms  server p99  client late  errors`,
  );
  row('vitrine (at its half rate)', v.max.goodput, v.half, v.max.errors + v.half.errors);
  if (v.atRate) row("vitrine (at the baseline's half rate)", v.max.goodput, v.atRate, v.atRate.errors);
  row('baseline ws + JSON (at its half rate)', b.max.goodput, b.half, b.max.errors + b.half.errors);
  const rs = rounds[r].redis;
  if (rs) {
    row('vitrine, Redis store (at its half rate)', rs.max.goodput, rs.half, rs.max.errors + rs.half.errors);
    if (rs.atRate) row("vitrine, Redis store (at embedded's half)", rs.max.goodput, rs.atRate, rs.atRate.errors);
  }
});
const ratios = rounds.map((r) => r.vitrine.max.goodput / r.baseline.max.goodput);
const p99Half = rounds.map((r) => r.vitrine.half.p99);
const p99Equal = rounds.map((r) => (r.vitrine.atRate?.p99 ?? NaN) / r.baseline.half.p99);
console.log(
  `\nthroughput ratio vitrine / baseline per round: ${ratios.map((x) => x.toFixed(2)).join(', ')}; median ${median(ratios).toFixed(2)}x`,
);
console.log(
  `vitrine p99 at its half rate per round (ms): ${p99Half.map((x) => x.toFixed(2)).join(', ')}; median ${median(p99Half).toFixed(2)} ms`,
);
console.log(
  `p99 at equal load, vitrine / baseline per round: ${p99Equal.map((x) => x.toFixed(2)).join(', ')}; median ${median(p99Equal).toFixed(2)}`,
);
const serverEqual = rounds.map((r) => (r.vitrine.atRate?.server.p99 ?? NaN) / r.baseline.half.server.p99);
console.log(
  `server-side p99 at equal load, vitrine / baseline per round: ${serverEqual.map((x) => x.toFixed(2)).join(', ')}; median ${median(serverEqual).toFixed(2)}`,
);
console.log(
  "(p50-max: what the client saw, from each request's scheduled send; server p99: the server's own time in its replies; client late: p99 of how late the client sent, which the client-side figures include)",
);
if (rounds[0].redis) {
  const tput = rounds.map((r) => r.redis!.max.goodput / r.vitrine.max.goodput);
  const p99 = rounds.map((r) => (r.redis!.atRate?.p99 ?? NaN) / r.vitrine.half.p99);
  console.log(
    `Redis store / embedded store, throughput per round: ${tput.map((x) => x.toFixed(2)).join(', ')}; median ${median(tput).toFixed(2)}`,
  );
  console.log(
    `Redis store / embedded store, p99 at the embedded store's half rate per round: ${p99.map((x) => x.toFixed(2)).join(', ')}; median ${median(p99).toFixed(2)}`,
  );
}
rounds.forEach(({ vitrine: v, baseline: b }, j) => {
  const lines = [
    ['vitrine, closed loop (its maximum)', v.maxCpu],
    ['vitrine at its half rate', v.halfCpu],
    ["vitrine at the baseline's half rate", v.atRateCpu],
    ['baseline, closed loop (its maximum)', b.maxCpu],
    ['baseline at its half rate', b.halfCpu],
  ] as const;
  if (!lines.some(([, c]) => c)) return;
  console.log(`\nround ${j + 1}: the cores' use (of ${cpus().length}), from /proc`);
  for (const [what, c] of lines) if (c) console.log(`  ${what.padEnd(36)} ${describeThreadCpu(c)}`);
});
const stageCell = (f: StageFigures | undefined): string =>
  f
    ? `${f.meanMs.toFixed(3).padStart(7)}  ${String(f.p50Ms).padStart(5)}  ${String(f.p99Ms).padStart(5)}`
    : ''.padStart(20);
rounds.forEach(({ vitrine: v }, j) => {
  if (!v.halfStages) return;
  console.log(
    `\nround ${j + 1}: where a recommend's time went in Vitrine (its own clocks, ms; p50/p99 are bucket bounds)\n  stage      at its half rate: mean  p50 ≤  p99 ≤   at the baseline's half rate: mean  p50 ≤  p99 ≤`,
  );
  for (const [stage, f] of Object.entries(v.halfStages))
    console.log(
      `  ${stage.padEnd(9)} ${''.padStart(12)}${stageCell(f)} ${''.padStart(24)}${stageCell(v.atRateStages?.[stage])}`,
    );
});
mkdirSync('bench-results', { recursive: true });
const file = join('bench-results', `serve-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ inputs, rounds }, null, 2) + '\n');
console.log(`JSON: ${file}`);
