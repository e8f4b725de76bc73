import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { readBundle } from '../../src/bundle/read.js';
import { createKernel } from '../../src/batch/choose-kernel.js';
import { GpuJsKernel } from '../../src/batch/kernels/gpujs.js';
import { JsKernel } from '../../src/batch/kernels/js.js';
import { KernelUnavailable, type ScoreKernel, type TopKBlock } from '../../src/batch/kernels/kernel.js';
import { OnnxTopKKernel } from '../../src/batch/kernels/onnx.js';
import { formatBlock } from '../../src/batch/output.js';
import { Rng } from '../../src/util/rng.js';
import { cliPath, tempDir } from '../helpers/paths.js';

const bundleDir = inject('fixtureBundle');
const run = (...args: string[]) =>
  spawnSync(process.execPath, [cliPath, 'batch-score', ...args], {
    encoding: 'utf8',
    env: { ...process.env, VITRINE_PROGRESS: '0' },
  });

/** Same top-K up to ties: positions may differ only between items whose scores are (nearly) equal. */
function expectSameTopK(a: TopKBlock, b: TopKBlock, users: number, k: number, label: string): void {
  for (let u = 0; u < users; u++) {
    const kth = a.scores[u * k + k - 1];
    for (let q = 0; q < k; q++) {
      // Both rows padded here: fewer eligible items than k.
      if (a.items[u * k + q] === -1 && b.items[u * k + q] === -1) continue;
      expect(Math.abs(a.scores[u * k + q] - b.scores[u * k + q]), `${label} user ${u} rank ${q}`).toBeLessThan(1e-4);
      if (a.items[u * k + q] !== b.items[u * k + q])
        expect(
          Math.abs(a.scores[u * k + q] - kth) < 1e-4 || Math.abs(a.scores[u * k + q] - b.scores[u * k + q]) < 1e-5,
          `${label} user ${u} rank ${q}`,
        ).toBe(true);
    }
  }
}

/**
 * Random item and user vectors, and `excluded` random items for every user but each `every`-th
 * (those exclude nothing).
 */
function scoringProblem(seed: number, n: number, d: number, users: number, every: number, excluded: number) {
  const rng = new Rng(seed);
  const items = Float32Array.from({ length: n * d }, () => rng.normal());
  const U = Float32Array.from({ length: users * d }, () => rng.normal());
  const exclude = Array.from({ length: users }, (_, u) =>
    u % every ? Int32Array.from({ length: excluded }, () => rng.int(n)) : undefined,
  );
  return { items, U, exclude };
}

describe('batch scoring kernels', () => {
  it('onnx, gpu.js (one thread and its threaded async mode) and plain TypeScript give the same top-K (ties aside), with exclusions', async () => {
    const n = 3001;
    const d = 16;
    const users = 37;
    const k = 25;
    const { items, U, exclude } = scoringProblem(2, n, d, users, 2, 30);
    const js = await new JsKernel(items, n, d).topK(U, users, k, exclude);
    const onnx = await (await OnnxTopKKernel.create(items, n, d)).topK(U, users, k, exclude);
    const gpujs = await (await GpuJsKernel.create(items, n, d, 'webasm', 1000)).topK(U, users, k, exclude);
    const threaded = await GpuJsKernel.create(items, n, d, 'async', 1000);
    const gpujsAsync = await threaded.topK(U, users, k, exclude);
    await threaded.close();
    expectSameTopK(js, onnx, users, k, 'onnx');
    expectSameTopK(js, gpujs, users, k, 'gpujs');
    expectSameTopK(js, gpujsAsync, users, k, 'gpujs-async');
    for (let u = 0; u < users; u++) {
      const ex = new Set(exclude[u] ?? []);
      for (let q = 0; q < k; q++) expect(ex.has(js.items[u * k + q])).toBe(false);
    }
    // K plus the exclusions past the catalogue: every eligible item, then padding, on each backend.
    const big = n - 10;
    const jsAll = await new JsKernel(items, n, d).topK(U, users, big, exclude);
    const onnxAll = await (await OnnxTopKKernel.create(items, n, d)).topK(U, users, big, exclude);
    expectSameTopK(jsAll, onnxAll, users, big, 'onnx, k near the catalogue size');
    const eligible = (u: number): number => n - new Set(exclude[u] ?? []).size;
    for (let u = 0; u < users; u++)
      expect(onnxAll.items.subarray(u * big, (u + 1) * big).filter((i) => i >= 0).length).toBe(
        Math.min(big, eligible(u)),
      );
  });
});

/**
 * The webgpu backend where this machine has it (a GPU, a Vulkan driver, glibc 2.38 for Dawn), else
 * the reason it cannot run. CI has no GPU, so there the refusal is what is checked; on a GPU
 * machine the same tests check its results.
 */
async function webGpuHere(items: Float32Array, n: number, d: number): Promise<ScoreKernel | KernelUnavailable> {
  return createKernel('webgpu', items, n, d).catch((e: unknown) => {
    if (e instanceof KernelUnavailable) return e;
    throw e;
  });
}

describe('the webgpu backend', () => {
  it('gives the same top-K as plain TypeScript where an adapter answers, and elsewhere says why it cannot run', async () => {
    const n = 5003;
    const d = 16;
    const users = 21;
    const k = 30;
    const { items, U, exclude } = scoringProblem(4, n, d, users, 3, 25);
    const kernel = await webGpuHere(items, n, d);
    if (kernel instanceof KernelUnavailable) {
      expect(kernel.message).toMatch(
        /^WebGPU unavailable: (Dawn \(the webgpu package\) does not load here: \S|no WebGPU adapter answered|the WebGPU adapter request failed)/,
      );
      return;
    }
    expect(kernel.device).toMatch(/^WebGPU: /);
    const got = await kernel.topK(U, users, k, exclude);
    await kernel.close();
    expectSameTopK(await new JsKernel(items, n, d).topK(U, users, k, exclude), got, users, k, 'webgpu');
  });
});

describe('batch output', () => {
  it('gives a user with nothing left to recommend a row of its own in CSV, as JSONL gives it a line', () => {
    const results = [
      {
        user: 'u1',
        items: ['i1', 'i2'],
        embeddingScores: [0.5, 0.25],
        propensity: [0.3, 0.2],
        segment: { id: 2, label: 'loyal, "big" spenders' },
        coldStart: false,
      },
      {
        user: 'u2',
        items: [],
        embeddingScores: [],
        propensity: [],
        segment: { id: 0, label: 'new' },
        coldStart: false,
      },
    ];
    expect(formatBlock(results, 'csv', true, true)).toBe(
      'u1,1,i1,0.5,0.3,2,"loyal, ""big"" spenders",0\nu1,2,i2,0.25,0.2,2,"loyal, ""big"" spenders",0\nu2,,,,,0,new,0\n',
    );
    expect(formatBlock(results, 'jsonl', false, false).split('\n')[1]).toBe(
      '{"user":"u2","items":[],"embeddingScores":[]}',
    );
  });
});

describe('vitrine batch-score', () => {
  it("writes, for every user, the brute-force top-K over the available catalogue minus the user's items", () => {
    const out = join(tempDir(), 'recs.jsonl');
    const r = run('--bundle', bundleDir, '--all', '--k', '15', '--out', out, '--segments', '--propensity');
    expect(r.status, r.stderr).toBe(0);
    const b = readBundle(bundleDir);
    const d = b.als.factors;
    const n = b.items.length;
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            user: string;
            items: string[];
            embeddingScores: (number | null)[];
            propensity: (number | null)[] | null;
            segment: { id: number } | null;
            coldStart?: boolean;
          },
      );
    expect(lines.map((l) => l.user)).toEqual(b.userIds);
    let checked = 0;
    for (const [u, line] of lines.entries()) {
      const seen = new Set(b.history.ui.items.subarray(b.history.ui.indptr[u], b.history.ui.indptr[u + 1]));
      if (seen.size === 0) {
        expect(line.coldStart).toBe(true);
        continue;
      }
      // Independent reference: every item's score in float64, sorted, minus what the user has seen.
      const all: [number, number][] = [];
      for (let i = 0; i < n; i++) {
        if (seen.has(i) || !b.items[i].available) continue;
        let s = 0;
        for (let c = 0; c < d; c++) s += b.als.userFactors[u * d + c] * b.als.itemFactors[i * d + c];
        all.push([s, i]);
      }
      all.sort((x, y) => y[0] - x[0] || x[1] - y[1]);
      const kth = all[14][0];
      line.items.forEach((id, q) => {
        expect(Math.abs((line.embeddingScores[q] ?? NaN) - all[q][0])).toBeLessThan(1e-4);
        if (id !== b.items[all[q][1]].id) expect(Math.abs(all[q][0] - kth)).toBeLessThan(1e-4);
      });
      expect(line.propensity).toHaveLength(15);
      expect(line.propensity!.every((p) => p !== null && p >= 0 && p <= 1)).toBe(true);
      expect(line.segment?.id).toBe(b.segments.assignment[u]);
      checked++;
    }
    expect(checked).toBeGreaterThan(700);
    expect(b.items.some((it) => !it.available)).toBe(true);

    // An item's propensity is the same whatever K: it is ranked as in serving's retrieval list.
    const sample = lines.filter((l) => !l.coldStart).slice(0, 20);
    const usersFile = join(tempDir(), 'users.txt');
    writeFileSync(usersFile, sample.map((l) => l.user).join('\n') + '\n');
    const out3 = join(tempDir(), 'recs3.jsonl');
    expect(run('--bundle', bundleDir, '--users', usersFile, '--k', '3', '--out', out3, '--propensity').status).toBe(0);
    readFileSync(out3, 'utf8')
      .trim()
      .split('\n')
      .forEach((l, j) => {
        const line = JSON.parse(l) as { items: string[]; propensity: number[] };
        expect(line.items).toEqual(sample[j].items.slice(0, 3));
        line.propensity.forEach((p, q) => expect(Math.abs(p - (sample[j].propensity![q] ?? NaN))).toBeLessThan(1e-6));
      });
  });

  it('scores a users file as given but says which ids are unknown and which repeat', () => {
    const b = readBundle(bundleDir);
    const usersFile = join(tempDir(), 'users.txt');
    writeFileSync(usersFile, [b.userIds[0], 'no-such-user', b.userIds[1], b.userIds[0]].join('\n') + '\n');
    const out = join(tempDir(), 'recs.jsonl');
    const r = run('--bundle', bundleDir, '--users', usersFile, '--k', '5', '--out', out, '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/1 of 4 ids are not in the bundle \(e\.g\. "no-such-user"\); they get trending items/);
    expect(r.stderr).toMatch(/1 ids repeat an earlier line/);
    const summary = JSON.parse(r.stdout) as { unknownUsers: number; repeatedUsers: number; users: number };
    expect(summary).toMatchObject({ unknownUsers: 1, repeatedUsers: 1, users: 4 });
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { user: string; items: string[]; coldStart?: boolean });
    expect(lines.map((l) => l.user)).toEqual([b.userIds[0], 'no-such-user', b.userIds[1], b.userIds[0]]);
    expect(lines[1].coldStart).toBe(true);
    expect(lines[1].items).toHaveLength(5);
    expect(lines[3].items).toEqual(lines[0].items);
  });

  it('leaves unavailable items in only when asked', () => {
    const b = readBundle(bundleDir);
    const unavailable = new Set(b.items.filter((it) => !it.available).map((it) => it.id));
    // No one ever bought an unavailable item in the synthetic shop, so they score low: ask for the
    // whole catalogue for a few users.
    const usersFile = join(tempDir(), 'users.txt');
    writeFileSync(usersFile, b.userIds.slice(0, 5).join('\n') + '\n');
    const count = (extra: string[]): number => {
      const out = join(tempDir(), 'recs.jsonl');
      expect(
        run('--bundle', bundleDir, '--users', usersFile, '--k', String(b.items.length), '--out', out, ...extra).status,
      ).toBe(0);
      return readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .flatMap((l) => (JSON.parse(l) as { items: string[] }).items)
        .filter((id) => unavailable.has(id)).length;
    };
    expect(count([])).toBe(0);
    expect(count(['--include-unavailable'])).toBeGreaterThan(0);
  });

  it('resumes a killed run to exactly the file an uninterrupted run writes', async () => {
    const dir = tempDir();
    const full = join(dir, 'full.csv');
    const uninterrupted = run(
      '--bundle',
      bundleDir,
      '--all',
      '--k',
      '10',
      '--out',
      full,
      '--workers',
      '1',
      '--block',
      '8',
      '--backend',
      'js',
      '--json',
    );
    expect(uninterrupted.status).toBe(0);
    const fullColdStart = (JSON.parse(uninterrupted.stdout) as { coldStart: number }).coldStart;
    expect(fullColdStart).toBeGreaterThan(0);

    const partial = join(dir, 'partial.csv');
    const child = spawn(
      process.execPath,
      [
        cliPath,
        'batch-score',
        '--bundle',
        bundleDir,
        '--all',
        '--k',
        '10',
        '--out',
        partial,
        '--workers',
        '1',
        '--block',
        '8',
        '--backend',
        'js',
      ],
      { stdio: 'ignore', env: { ...process.env, VITRINE_PROGRESS: '0' } },
    );
    const checkpoint = `${partial}.checkpoint.json`;
    // Kill it hard once a few blocks are on disk, but well before the end.
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (!existsSync(checkpoint)) return;
        try {
          const cp = JSON.parse(readFileSync(checkpoint, 'utf8')) as { usersDone: number };
          if (cp.usersDone >= 64) {
            child.kill('SIGKILL');
            clearInterval(poll);
            resolve();
          }
        } catch {
          // The checkpoint is renamed into place atomically; a failed read is a race with the poll.
        }
      }, 2);
    });
    await new Promise((r) => child.once('exit', r));
    const cp = JSON.parse(readFileSync(checkpoint, 'utf8')) as { usersDone: number; complete: boolean };
    expect(cp.complete).toBe(false);
    expect(statSync(partial).size).toBeLessThan(statSync(full).size);

    // The same bundle by another path (a symlink here; a moved copy alike) is the same job.
    const alias = join(dir, 'bundle-alias');
    symlinkSync(bundleDir, alias);
    const resumed = run(
      '--bundle',
      alias,
      '--all',
      '--k',
      '10',
      '--out',
      partial,
      '--workers',
      '2',
      '--block',
      '8',
      '--backend',
      'js',
      '--resume',
      '--json',
    );
    expect(resumed.status, resumed.stderr).toBe(0);
    const summary = JSON.parse(resumed.stdout) as { resumedFrom: number; coldStart: number };
    expect(summary.resumedFrom).toBeGreaterThan(0);
    expect(readFileSync(partial).equals(readFileSync(full))).toBe(true);
    // The summary counts the whole job, the part before the interruption included.
    expect(summary.coldStart).toBe(fullColdStart);

    // Killed before its first block was committed (the checkpoint it writes at the start says no
    // user is done): --resume starts over, whatever the output holds.
    const early = join(dir, 'early.csv');
    writeFileSync(early, 'user,rank,item,score\nu1,1,i');
    const started = {
      ...(JSON.parse(readFileSync(`${full}.checkpoint.json`, 'utf8')) as object),
      usersDone: 0,
      bytes: 0,
      complete: false,
    };
    writeFileSync(`${early}.checkpoint.json`, JSON.stringify(started));
    const fresh = run(
      '--bundle',
      bundleDir,
      '--all',
      '--k',
      '10',
      '--out',
      early,
      '--workers',
      '1',
      '--block',
      '8',
      '--backend',
      'js',
      '--resume',
    );
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(readFileSync(early).equals(readFileSync(full))).toBe(true);

    // A file without a checkpoint was not started by batch-score: --resume leaves it alone.
    const precious = join(dir, 'precious.csv');
    writeFileSync(precious, 'not ours\n');
    const refused = run('--bundle', bundleDir, '--all', '--k', '10', '--out', precious, '--resume');
    expect([refused.status, refused.stderr]).toEqual([
      2,
      expect.stringMatching(/has no checkpoint .* refusing to overwrite it \(use --force\)/),
    ]);
    expect(readFileSync(precious, 'utf8')).toBe('not ours\n');
    // A damaged checkpoint is named, not a stack trace.
    writeFileSync(`${precious}.checkpoint.json`, '{"signature":');
    const damaged = run('--bundle', bundleDir, '--all', '--k', '10', '--out', precious, '--resume');
    expect([damaged.status, damaged.stderr]).toEqual([
      2,
      expect.stringMatching(/is not a readable checkpoint \([^)]*\); start again with --force\n$/),
    ]);
  });

  it('rejects bad usage with clear errors', () => {
    const dir = tempDir();
    expect(run('--bundle', bundleDir, '--all', '--out', join(dir, 'x.txt')).stderr).toMatch(
      /--out .*x\.txt: use a \.jsonl or \.csv file name/,
    );
    expect(run('--bundle', bundleDir, '--out', join(dir, 'x.jsonl')).stderr).toMatch(/give --all or --users <file>/);
    const out = join(dir, 'y.jsonl');
    expect(run('--bundle', bundleDir, '--all', '--out', out).status).toBe(0);
    const again = run('--bundle', bundleDir, '--all', '--out', out);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/exists; use --resume .* or --force/);
    const other = run('--bundle', bundleDir, '--all', '--k', '7', '--out', out, '--resume');
    expect(other.stderr).toMatch(/belongs to a different job .*; start again with --force/);
    // With --force as well, a checkpoint that cannot be resumed means start over, as --force says.
    const over = run('--bundle', bundleDir, '--all', '--k', '7', '--out', out, '--resume', '--force');
    expect([over.status, over.stderr]).toEqual([
      0,
      expect.stringMatching(/--resume --force: .*belongs to a different job .*; starting again from the first user/),
    ]);
    // A block's output is one string: a block size that would build too large a one is refused up front.
    expect(
      run('--bundle', bundleDir, '--all', '--k', '600', '--block', '1024', '--out', join(dir, 'wide.csv')).stderr,
    ).toMatch(/--block 1024 with --k 600 makes blocks of \d+ result rows; at most 262144 .*use --block \d+ or less/);
    // Backends differ in the last digits of scores, so a resumed run keeps the one that started.
    const js = join(dir, 'js.jsonl');
    expect(run('--bundle', bundleDir, '--all', '--out', js, '--backend', 'js').status).toBe(0);
    const switched = run('--bundle', bundleDir, '--all', '--out', js, '--backend', 'onnx', '--resume');
    expect([switched.status, switched.stderr]).toEqual([
      2,
      expect.stringMatching(/started with --backend js; resume it with that backend/),
    ]);
    // gpu.js's threaded mode runs in one worker (it brings its own threads) and writes the same lists.
    const threaded = join(dir, 'async.jsonl');
    const asyncRun = run(
      '--bundle',
      bundleDir,
      '--all',
      '--out',
      threaded,
      '--backend',
      'gpujs-async',
      '--workers',
      '2',
      '--json',
    );
    expect(asyncRun.status, asyncRun.stderr).toBe(0);
    expect(JSON.parse(asyncRun.stdout)).toMatchObject({ backend: 'gpujs-async', workers: 1 });
    const lists = (f: string): string[][] =>
      readFileSync(f, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { items: string[] }).items);
    const [a, b] = [lists(threaded), lists(js)];
    expect(a).toHaveLength(b.length);
    // Ties aside: at least 95% of the users get the very same ordered list.
    expect(a.filter((x, u) => JSON.stringify(x) === JSON.stringify(b[u])).length).toBeGreaterThan(0.95 * b.length);
    // The webgpu backend where it runs writes the same lists; where it cannot, the run stops before
    // any output exists, and auto reports why it left it out.
    const gpu = join(dir, 'webgpu.jsonl');
    const gpuRun = run('--bundle', bundleDir, '--all', '--out', gpu, '--backend', 'webgpu', '--json');
    const auto = JSON.parse(run('--bundle', bundleDir, '--all', '--out', join(dir, 'auto.jsonl'), '--json').stdout) as {
      backendTrials: { kernel: string; unavailable?: string; usersPerSecond: number }[];
    };
    const webgpuTrial = auto.backendTrials.find((t) => t.kernel === 'webgpu')!;
    if (gpuRun.status === 0) {
      expect(JSON.parse(gpuRun.stdout)).toMatchObject({
        backend: 'webgpu',
        workers: 1,
        device: expect.stringMatching(/^WebGPU: /),
      });
      expect(lists(gpu).filter((x, u) => JSON.stringify(x) === JSON.stringify(b[u])).length).toBeGreaterThan(
        0.95 * b.length,
      );
      expect(webgpuTrial.usersPerSecond).toBeGreaterThan(0);
    } else {
      expect([gpuRun.status, gpuRun.stderr]).toEqual([
        2,
        expect.stringMatching(/^vitrine: --backend webgpu: WebGPU unavailable: /m),
      ]);
      expect(existsSync(gpu) || existsSync(`${gpu}.checkpoint.json`)).toBe(false);
      expect(webgpuTrial.unavailable).toMatch(/^WebGPU unavailable: /);
    }
    const noDir = run('--bundle', bundleDir, '--all', '--out', join(dir, 'missing', 'x.jsonl'));
    expect([noDir.status, noDir.stderr]).toEqual([
      2,
      expect.stringMatching(/--out .*x\.jsonl: the directory .*missing does not exist/),
    ]);
    const noUsers = run('--bundle', bundleDir, '--users', join(dir, 'nobody.txt'), '--out', join(dir, 'z.jsonl'));
    expect([noUsers.status, noUsers.stderr]).toEqual([2, expect.stringMatching(/--users .*nobody\.txt: no such file/)]);
    expect(run('--bundle', bundleDir, '--all', '--out', join(dir, 'k.jsonl'), '--k', '0').status).toBe(2);
  });
});
