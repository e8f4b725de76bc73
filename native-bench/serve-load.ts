/**
 * Serving benchmark: recommend throughput and latency on a 100k-item synthetic bundle, Vitrine
 * (uWebSockets.js + piscina workers, msgpack) against the yardstick single-process ws + JSON server
 * doing the same work on its main thread, measured the same way in one run.
 *
 *   npm run bench:serve -- [--items 100000] [--users 20000] [--seconds 10] [--connections 32] [--depth 4]
 *
 * Maximum throughput comes from a closed loop (every connection keeps `depth` requests in flight);
 * latency percentiles from an open loop at half of that rate, timed from each request's scheduled
 * send (no coordinated omission). Prints a table and writes JSON to bench-results/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/loaders/index.js';
import { closedLoop, openLoop, type Codec, type LatencySummary } from '../src/load/driver.js';
import { Rng } from '../src/util/rng.js';
import { ensureBenchBundle } from './bench-bundle.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    users: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    depth: { type: 'string', default: '4' },
    workers: { type: 'string', default: String(cpus().length) },
    candidates: { type: 'string', default: '200' },
  },
});
const items = Number(args.items);
const users = Number(args.users);
const seconds = Number(args.seconds);
function startProcess(cmd: string[], ready: RegExp): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, cmd, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, VITRINE_PROGRESS: '0' } });
  let out = '';
  return new Promise((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) res({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => rej(new Error(`server exited (${code}) before it was ready: ${out}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

interface Target {
  name: string;
  codec: Codec;
  start: () => Promise<{ child: ChildProcess; port: number }>;
}

async function measure(t: Target, userIds: string[]): Promise<{ max: LatencySummary; half: LatencySummary }> {
  const { child, port } = await t.start();
  const rng = new Rng(9);
  const request = (): Record<string, unknown> => ({ call: 'recommend', user: userIds[rng.int(userIds.length)], k: 10, candidates: Number(args.candidates) });
  const url = t.name === 'vitrine' ? `ws://127.0.0.1:${port}/ws` : `ws://127.0.0.1:${port}`;
  try {
    // Warm up JIT, caches and worker pools before measuring.
    await closedLoop({ url, codec: t.codec, connections: 8, depth: 2, seconds: 2, request });
    const max = await closedLoop({ url, codec: t.codec, connections: Number(args.connections), depth: Number(args.depth), seconds, request });
    const half = await openLoop({ url, codec: t.codec, connections: Number(args.connections), rate: Math.max(1, Math.round(max.throughput / 2)), seconds, request });
    return { max, half };
  } finally {
    await stop(child);
  }
}

const { shop, bundle } = await ensureBenchBundle(items, users, Number(args.candidates));
const data = await loadDataset(shop);
const userIds = [...data.users.list()].slice(0, 5000);
const cli = resolve('dist', 'cli', 'main.js');
const targets: Target[] = [
  { name: 'vitrine', codec: 'msgpack', start: () => startProcess([cli, 'serve', '--bundle', bundle, '--port', '0', '--workers', args.workers!, '--clock', 'bundle', '--log-level', 'warn'], /on http:\/\/127\.0\.0\.1:(\d+)/) },
  { name: 'baseline (ws + JSON, main thread)', codec: 'json', start: () => startProcess(['--import', 'tsx', resolve('native-bench', 'baseline-server.ts'), bundle, '0'], /baseline listening on (\d+)/) },
];
const results: Record<string, { max: LatencySummary; half: LatencySummary }> = {};
for (const t of targets) {
  process.stderr.write(`measuring ${t.name}...\n`);
  results[t.name] = await measure(t, userIds);
}

const inputs = { items, users, dims: 64, candidatesPerRequest: Number(args.candidates), ranker: 'MLP (ONNX)', k: 10, seconds, connections: Number(args.connections), depth: Number(args.depth), vitrineWorkers: Number(args.workers), cores: cpus().length };
console.log(`\nrecommend on a ${items.toLocaleString()}-item synthetic bundle (${JSON.stringify(inputs)})`);
console.log('server                              max req/s   half-rate req/s   p50 ms   p90 ms   p99 ms  p99.9 ms   max ms  errors');
for (const [name, r] of Object.entries(results)) {
  const h = r.half;
  console.log(`${name.padEnd(34)} ${String(r.max.throughput).padStart(9)} ${String(h.throughput).padStart(17)} ${h.p50.toFixed(2).padStart(8)} ${h.p90.toFixed(2).padStart(8)} ${h.p99.toFixed(2).padStart(8)} ${h.p999.toFixed(2).padStart(9)} ${h.max.toFixed(2).padStart(8)} ${String(r.max.errors + h.errors).padStart(7)}`);
}
const v = results.vitrine;
const b = results['baseline (ws + JSON, main thread)'];
console.log(`\nthroughput ratio vitrine / baseline: ${(v.max.throughput / b.max.throughput).toFixed(2)}x; p99 at half rate: ${v.half.p99.toFixed(2)} ms vs ${b.half.p99.toFixed(2)} ms`);
mkdirSync('bench-results', { recursive: true });
const file = join('bench-results', `serve-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ inputs, results }, null, 2) + '\n');
console.log(`JSON: ${file}`);
