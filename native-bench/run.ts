/**
 * native-bench: the numeric kernels and native pieces Vitrine rests on, measured side by side.
 *
 *   npm run bench                      # every suite
 *   npm run bench -- --suite kernels   # kernels | hnsw | retrieval | ranker | codec | batch | events | idle (comma-separated)
 *   npm run bench -- --items 100000 --users 20000 --batch-users 4096
 *
 * Suites: batched scoring kernels (GFLOP/s per backend and shape, against numpy's sgemm `a@b`
 * measured in the same run), HNSW (efSearch sweep: recall@k against exact search vs queries/s), the
 * ONNX ranker (rows per call vs µs), msgpack vs JSON (encode and decode of a recommend exchange), and
 * the end-to-end batch job (users/s against the numpy + argpartition yardstick on the same vectors),
 * and the state store (events/s and acknowledgement latency: the embedded event log with and without
 * fsync, Redis with appendfsync everysec and always, on a redis-server it starts itself), and what a
 * recommend costs after an idle spell (one thread, back to back against 2 and 5 ms apart).
 * Prints tables with their inputs and writes JSON to bench-results/.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pack, unpack } from 'msgpackr';
import { Bench } from 'tinybench';
import { readBundle } from '../src/bundle/read.js';
import { chooseKernel, createKernel, sameItems } from '../src/batch/choose-kernel.js';
import { runBatch } from '../src/batch/job.js';
import { JsKernel } from '../src/batch/kernels/js.js';
import { KERNELS, KernelUnavailable, type ScoreKernel } from '../src/batch/kernels/kernel.js';
import { encodeCatalog } from '../src/data/catalog.js';
import { encodeReply } from '../src/serve/transport/codec.js';
import { FeatureBuilder } from '../src/features/features.js';
import { historyOf } from '../src/data/history.js';
import { exactTopK, HnswIndex, type Neighbours } from '../src/index/hnsw.js';
import { SCAN_MAX_ITEMS } from '../src/index/scan-group.js';
import { OnnxRanker } from '../src/rank/onnx-ranker.js';
import { Rng } from '../src/util/rng.js';
import { ensureBenchBundle } from './bench-bundle.js';
import { eventsSuite } from './suites/events.js';
import { idleSuite } from './suites/idle.js';
import { retrievalSuite } from './suites/retrieval.js';

const { values: args } = parseArgs({
  options: {
    suite: { type: 'string', default: 'kernels,hnsw,retrieval,ranker,codec,batch,events,idle' },
    items: { type: 'string', default: '100000' },
    users: { type: 'string', default: '20000' },
    'batch-users': { type: 'string', default: '4096' },
    python: { type: 'string', default: 'python3' },
  },
});
const suites = new Set(args.suite!.split(','));
const ITEMS = Number(args.items);
const USERS = Number(args.users);
const yardstick = resolve('..', 'shared', 'yardsticks', 'batch_topk_numpy.py');
const report: Record<string, unknown> = {
  machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
};

function table(title: string, header: string[], rows: (string | number)[][]): void {
  const w = header.map((h, c) => Math.max(h.length, ...rows.map((r) => String(r[c]).length)));
  console.log(`\n${title}`);
  console.log('  ' + header.map((h, c) => h.padEnd(w[c])).join('  '));
  for (const r of rows)
    console.log(
      '  ' + r.map((v, c) => (typeof v === 'number' ? String(v).padStart(w[c]) : String(v).padEnd(w[c]))).join('  '),
    );
}

function python(code: string): string {
  const r = spawnSync(args.python!, ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

const { shop, bundle: bundleDir } = await ensureBenchBundle(ITEMS, USERS, 200);
const bundle = readBundle(bundleDir);
const d = bundle.als.factors;
const n = bundle.items.length;
const rng = new Rng(5);
const activeUsers = Array.from({ length: bundle.userIds.length }, (_, u) => u).filter(
  (u) => bundle.history.ui.indptr[u + 1] > bundle.history.ui.indptr[u],
);
const userBlock = (count: number): Float32Array => {
  const U = new Float32Array(count * d);
  for (let j = 0; j < count; j++) {
    const u = activeUsers[rng.int(activeUsers.length)];
    U.set(bundle.als.userFactors.subarray(u * d, (u + 1) * d), j * d);
  }
  return U;
};

if (suites.has('kernels')) {
  const shapes = [
    { users: 64, items: n },
    { users: 256, items: n },
    { users: 64, items: Math.min(n, 12101) },
  ];
  const rows: (string | number)[][] = [];
  const json: unknown[] = [];
  const unavailable = new Map<string, string>();
  for (const s of shapes) {
    const flops = 2 * s.users * s.items * d;
    const U = userBlock(s.users);
    const none = Array.from({ length: s.users }, () => undefined);
    const bench = new Bench({ time: 1500, warmupTime: 300, iterations: 3 });
    const kernels: ScoreKernel[] = [];
    for (const name of KERNELS) {
      let kernel: ScoreKernel;
      try {
        kernel = await createKernel(name, bundle.als.itemFactors.subarray(0, s.items * d), s.items, d);
      } catch (e) {
        if (!(e instanceof KernelUnavailable)) throw e;
        unavailable.set(name, e.message);
        rows.push([`${s.users}×${s.items}×${d}`, `${name}: not here (below)`, '-', '-', '-', '-']);
        continue;
      }
      kernels.push(kernel);
      bench.add(name, async () => {
        await kernel.topK(U, s.users, 50, none);
      });
    }
    // Every backend's top-50 against the plain TypeScript one: the share of the same items.
    const reference = await new JsKernel(bundle.als.itemFactors.subarray(0, s.items * d), s.items, d).topK(
      U,
      s.users,
      50,
      none,
    );
    const agreement = new Map<string, number>();
    for (const kernel of kernels)
      agreement.set(kernel.name, sameItems(reference, await kernel.topK(U, s.users, 50, none), s.users, 50));
    await bench.run();
    for (const t of bench.tasks) {
      const r = t.result;
      if (r.state !== 'completed') continue;
      const ms = r.latency.mean;
      const kernel = kernels.find((k) => k.name === t.name)!;
      const where = kernel.device
        ? ` (${kernel.device})`
        : t.name === 'gpujs-async'
          ? ' (its own threads)'
          : ' (1 thread)';
      rows.push([
        `${s.users}×${s.items}×${d}`,
        `${t.name}${where} + top-50`,
        Number(ms.toFixed(1)),
        Number((flops / ms / 1e6).toFixed(2)),
        Math.round((s.users / ms) * 1000),
        agreement.get(t.name)!.toFixed(4),
      ]);
      json.push({
        shape: s,
        backend: t.name,
        device: kernel.device,
        ms,
        gflops: flops / ms / 1e6,
        usersPerSecond: (s.users / ms) * 1000,
        sameItemsAsJs: agreement.get(t.name),
      });
    }
    for (const kernel of kernels) await kernel.close();
    // The machine's sgemm: numpy a@b (OpenBLAS, all cores) on the same shape, same run.
    const out = python(`import numpy as np, time
a=np.random.default_rng(0).standard_normal((${s.users},${d}),dtype=np.float32); b=np.random.default_rng(1).standard_normal((${d},${s.items}),dtype=np.float32)
a@b; ts=[]
for _ in range(7):
    t=time.perf_counter(); a@b; ts.append(time.perf_counter()-t)
print(sorted(ts)[3]*1000)`);
    const ms = Number(out.trim());
    rows.push([
      `${s.users}×${s.items}×${d}`,
      'numpy a@b (sgemm only)',
      Number(ms.toFixed(1)),
      Number((flops / ms / 1e6).toFixed(2)),
      Math.round((s.users / ms) * 1000),
      '-',
    ]);
    json.push({ shape: s, backend: 'numpy-sgemm', ms, gflops: flops / ms / 1e6 });
  }
  table(
    `scoring kernels: users × items × dims, scores then top-50 (${cpus().length} cores; numpy's sgemm alone, on all cores)`,
    ['shape', 'backend', 'ms/call', 'GFLOP/s', 'users/s', 'same top-50 as js'],
    rows,
  );
  for (const [name, why] of unavailable) console.log(`  ${name}: ${why}`);
  report.kernels = json;
  if (unavailable.size > 0) report.kernelsUnavailable = Object.fromEntries(unavailable);
}

if (suites.has('hnsw')) {
  const index = HnswIndex.load(bundleDir, d, bundle.hnsw.partitions, bundle.hnsw.efSearch);
  const queries = userBlock(300);
  const scratch = new Float32Array(n);
  // Exact top-200 per query; the top-10 and top-50 are its prefixes.
  const exact = Array.from({ length: 300 }, (_, q) =>
    Array.from(exactTopK(bundle.als.itemFactors, n, d, queries.subarray(q * d, (q + 1) * d), 200, undefined, scratch)),
  );
  const rows: (string | number)[][] = [];
  const json: unknown[] = [];
  // Every partition walked as a graph, then with runs of small partitions scanned exactly (the default), side by side.
  for (const [ef, k] of [
    [200, 200],
    [300, 200],
    [400, 200],
    [800, 200],
    [100, 50],
    [200, 50],
    [50, 10],
    [200, 10],
  ] as const)
    for (const scan of [0, SCAN_MAX_ITEMS]) {
      index.setEf(ef);
      index.setScanMaxItems(scan);
      index.prepareScans(); // as serving does at start-up, so no timed search makes one
      index.searches = index.partitionsSearched = 0;
      const t0 = performance.now();
      let got: Neighbours[] = [];
      const reps = 3;
      const perRep = 300;
      for (let rep = 0; rep < reps; rep++)
        got = Array.from({ length: perRep }, (_, q) => index.search(queries.subarray(q * d, (q + 1) * d), k));
      const msPerQuery = (performance.now() - t0) / (reps * perRep);
      let recall = 0;
      got.forEach((g, q) => {
        const truth = new Set(exact[q].slice(0, k));
        let hit = 0;
        for (const i of g.items) if (truth.has(i)) hit++;
        recall += hit / k;
      });
      recall /= 300;
      const partitions = index.partitionsSearched / index.searches;
      rows.push([
        scan > 0 ? `scan groups <= ${SCAN_MAX_ITEMS}` : 'graph',
        ef,
        k,
        Number(recall.toFixed(4)),
        Math.round(1000 / msPerQuery),
        Number(msPerQuery.toFixed(3)),
        Number(partitions.toFixed(2)),
      ]);
      json.push({
        smallPartitions: scan > 0 ? 'scan' : 'graph',
        scanMaxItems: scan,
        efSearch: ef,
        k,
        recall,
        queriesPerSecond: 1000 / msPerQuery,
        partitionsPerQuery: partitions,
      });
    }
  table(
    `HNSW (${n} items × ${d} dims, M=${bundle.hnsw.M}, ${bundle.hnsw.partitions.length} norm partitions of ${bundle.hnsw.partitions.map((p) => p.items).join('/')} items; user vectors as queries; recall = overlap with the exact inner-product top-k)`,
    ['partitions', 'efSearch', 'k', 'recall@k', 'queries/s', 'ms/query', 'graphs + scans/query'],
    rows,
  );
  report.hnsw = json;
  report.hnswBatched = await batchedSearches(index, queries, d);
}

/**
 * Serving's search (searchBatched) against the synchronous one, per query at k = 200: alone, and
 * asked by 4 and 8 requests in one synchronous run (a worker's batch), side by side.
 */
async function batchedSearches(index: HnswIndex, queries: Float32Array, dim: number): Promise<unknown[]> {
  index.setEf(bundle.hnsw.efSearch);
  index.setScanMaxItems(SCAN_MAX_ITEMS);
  index.prepareScans();
  await index.prepareBatchedScans();
  const count = queries.length / dim;
  const q = (i: number): Float32Array => queries.subarray((i % count) * dim, ((i % count) + 1) * dim);
  const perQuery = async (run: () => Promise<unknown>): Promise<number> => {
    await run();
    const t0 = performance.now();
    for (let rep = 0; rep < 3; rep++) await run();
    return ((performance.now() - t0) * 1000) / (3 * count);
  };
  const out: { search: string; batch: number; usPerQuery: number }[] = [];
  out.push({
    search: 'search',
    batch: 1,
    usPerQuery: await perQuery(async () => {
      for (let i = 0; i < count; i++) index.search(q(i), 200);
    }),
  });
  for (const batch of [1, 4, 8])
    out.push({
      search: 'searchBatched',
      batch,
      usPerQuery: await perQuery(async () => {
        for (let i = 0; i < count; i += batch)
          await Promise.all(Array.from({ length: batch }, (_, b) => index.searchBatched(q(i + b), 200)));
      }),
    });
  table(
    `HNSW search of 200 as serving runs it (scan groups, efSearch ${bundle.hnsw.efSearch}; a batch: the searches one synchronous run asks)`,
    ['search', 'batch', 'µs/query'],
    out.map((r) => [r.search, r.batch, Number(r.usPerQuery.toFixed(1))]),
  );
  return out;
}

if (suites.has('retrieval')) report.retrieval = await retrievalSuite(table, bundle, 3000);

if (suites.has('ranker')) {
  const ranker = await OnnxRanker.create(bundle.rankerOnnx, bundle.featureSpec.names.length);
  const features = new FeatureBuilder(
    {
      catalog: encodeCatalog(bundle.items),
      factors: d,
      itemFactors: bundle.als.itemFactors,
      knn: bundle.knn,
      follows: bundle.follows,
      popularity: bundle.popularity,
      rules: bundle.rules,
    },
    bundle.featureSpec,
  );
  const u = activeUsers[0];
  const h = historyOf(bundle.history.ui, bundle.history.totals, u);
  const vector = bundle.als.userFactors.subarray(u * d, (u + 1) * d);
  const bench = new Bench({ time: 1000, warmupTime: 200 });
  const json: unknown[] = [];
  // 1600 rows: a serving batch of 8 requests × 200 candidates, scored in one session run.
  for (const rows of [1, 10, 50, 200, 1000, 1600]) {
    const cand = Int32Array.from({ length: rows }, () => rng.int(n));
    const X = new Float32Array(rows * features.width);
    features.build({ history: h, vector, attrs: bundle.users[u], now: bundle.manifest.data.referenceTime }, cand, X);
    bench.add(`onnx ranker ${rows} rows`, async () => {
      await ranker.score(X, rows);
    });
    bench.add(`features ${rows} rows`, () => {
      features.build({ history: h, vector, attrs: bundle.users[u], now: bundle.manifest.data.referenceTime }, cand, X);
    });
  }
  await bench.run();
  const rows = bench.tasks.flatMap((t) => {
    const r = t.result;
    if (r.state !== 'completed') return [];
    const count = Number(/(\d+) rows/.exec(t.name)![1]);
    json.push({ task: t.name, rows: count, microseconds: r.latency.mean * 1000 });
    return [
      [t.name, count, Number((r.latency.mean * 1000).toFixed(1)), Number(((r.latency.mean * 1000) / count).toFixed(3))],
    ];
  });
  table(
    `ONNX ranker and feature building (${features.width} features, MLP ${bundle.manifest.parameters.ranker ? JSON.stringify((bundle.manifest.parameters.ranker as { hidden?: number[] }).hidden) : ''}, 1 thread)`,
    ['task', 'rows', 'µs/call', 'µs/row'],
    rows,
  );
  report.ranker = json;
}

if (suites.has('codec')) {
  const request = {
    id: 12345,
    call: 'recommend',
    user: 'u123456',
    k: 10,
    filters: { category: ['Shoes', 'Bags'], priceMax: 80 },
  };
  const response = {
    id: 12345,
    result: {
      items: Array.from({ length: 10 }, (_, j) => ({
        id: `i${10000 + j * 37}`,
        score: 0.123456 + j / 100,
        stage: 'hnsw',
        explanation: `because you viewed "Some Product Name ${j}"`,
      })),
      user: { known: true, coldStart: false, historyLength: 42 },
    },
    bundle: 'v20261124-083012',
    serverMs: 1.234,
  };
  const bench = new Bench({ time: 1000, warmupTime: 200 });
  const packedReq = pack(request);
  const packedRes = pack(response);
  const jsonReq = JSON.stringify(request);
  const jsonRes = JSON.stringify(response);
  // A refusal as the server sends it (Dispatcher.stamped builds it as a literal), and the same reply
  // spread-copied first, as it was built before: under overload the main thread sends thousands a second.
  const error = {
    code: 'overloaded' as const,
    message: 'the workers are 12 ms behind (the queue deadline is 5 ms); retry with backoff',
  };
  const refused = { id: 12345, error };
  bench
    .add('msgpack encode a refusal (literal)', () =>
      encodeReply({ id: 12345, error, bundle: 'v1', serverMs: 0.012 }, true),
    )
    .add('msgpack encode a refusal (spread copy)', () =>
      encodeReply({ ...refused, bundle: 'v1', serverMs: 0.012 }, true),
    )
    .add('msgpack encode response', () => pack(response))
    .add('JSON encode response', () => JSON.stringify(response))
    .add('msgpack decode request', () => unpack(packedReq))
    .add('JSON decode request', () => JSON.parse(jsonReq))
    .add('msgpack decode response', () => unpack(packedRes))
    .add('JSON decode response', () => JSON.parse(jsonRes));
  await bench.run();
  const rows = bench.tasks.flatMap((t) =>
    t.result.state === 'completed'
      ? [[t.name, Number((t.result.latency.mean * 1000).toFixed(3)), Math.round(t.result.throughput.mean)]]
      : [],
  );
  table(
    `msgpack vs JSON (request ${packedReq.length} vs ${jsonReq.length} bytes; response ${packedRes.length} vs ${jsonRes.length} bytes)`,
    ['task', 'µs/op', 'ops/s'],
    rows,
  );
  report.codec = {
    sizes: {
      requestMsgpack: packedReq.length,
      requestJson: jsonReq.length,
      responseMsgpack: packedRes.length,
      responseJson: jsonRes.length,
    },
    tasks: rows,
  };
}

if (suites.has('batch')) {
  const count = Math.min(Number(args['batch-users']), bundle.userIds.length);
  const dir = join(tmpdir(), `vitrine-bench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  // The same users for both: their ids for Vitrine, their vectors for numpy.
  const picked = activeUsers.slice(0, count);
  writeFileSync(join(dir, 'users.txt'), picked.map((u) => bundle.userIds[u]).join('\n') + '\n');
  const U = new Float32Array(count * d);
  picked.forEach((u, j) => U.set(bundle.als.userFactors.subarray(u * d, (u + 1) * d), j * d));
  writeFileSync(join(dir, 'users.f32'), U);
  writeFileSync(join(dir, 'items.f32'), bundle.als.itemFactors);
  const py = spawnSync(
    args.python!,
    [
      yardstick,
      '--users-file',
      join(dir, 'users.f32'),
      '--items-file',
      join(dir, 'items.f32'),
      '--dim',
      String(d),
      '--k',
      '50',
    ],
    { encoding: 'utf8' },
  );
  if (py.status !== 0) throw new Error(`numpy yardstick failed: ${py.stderr}`);
  const numpyUsersPerSecond = Number(/users\/s (\d+)/.exec(py.stdout)![1]);
  const { trials } = await chooseKernel(bundle.als.itemFactors, n, d);
  // Every item scored, as numpy does (the job leaves unavailable ones out by default).
  const summary = await runBatch({
    bundle: bundleDir,
    usersFile: join(dir, 'users.txt'),
    all: false,
    k: 50,
    out: join(dir, 'recs.jsonl'),
    propensity: false,
    segments: false,
    backend: 'auto',
    workers: cpus().length,
    blockSize: 'auto',
    resume: false,
    force: true,
    excludeSeen: true,
    availableOnly: false,
  });
  table(
    `end-to-end batch job: ${count} users × ${n} items × ${d} dims, exact top-50 (Vitrine excludes each user's seen items; numpy does not)`,
    ['job', 'scoring s', 'users/s', 'GFLOP/s', 'vs numpy', 'wall s (with start-up)'],
    [
      [
        `vitrine batch-score (${summary.backend}, ${summary.workers} workers)`,
        summary.seconds,
        summary.usersPerSecond,
        summary.gflops,
        Number((summary.usersPerSecond / numpyUsersPerSecond).toFixed(2)),
        summary.wallSeconds,
      ],
      [
        'numpy yardstick (sgemm + argpartition)',
        Number((count / numpyUsersPerSecond).toFixed(2)),
        numpyUsersPerSecond,
        Number(((2 * n * d * numpyUsersPerSecond) / 1e9).toFixed(2)),
        1,
        '-',
      ],
    ],
  );
  report.batch = {
    users: count,
    items: n,
    dims: d,
    k: 50,
    vitrine: summary,
    kernelTrials: trials,
    numpy: { usersPerSecond: numpyUsersPerSecond, output: py.stdout.trim() },
    ratio: summary.usersPerSecond / numpyUsersPerSecond,
  };
}

if (suites.has('events')) report.events = await eventsSuite(table);
if (suites.has('idle')) report.idle = await idleSuite(table, bundle, bundle.userIds.slice(0, 5000));

mkdirSync('bench-results', { recursive: true });
const file = join('bench-results', `native-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(
  file,
  JSON.stringify({ inputs: { items: n, users: USERS, dims: d, bundle: bundleDir, shop }, ...report }, null, 2) + '\n',
);
console.log(`\nJSON: ${file}`);
process.exit(0);
