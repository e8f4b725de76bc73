import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSystemReason } from '../src/cli/errors.js';
import { newVersion } from '../src/cli/commands/train.js';
import { cliPath } from './helpers/paths.js';
import { BUY_AGAIN, TWO_STAGE_REPEATS } from '../src/eval/repeats.js';

const run = (...args: string[]) =>
  spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, VITRINE_PROGRESS: '0' } });

describe('vitrine CLI', () => {
  it('has --help on the program and every command', () => {
    const top = run('--help');
    expect(top.status).toBe(0);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z-]+) /gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['demo', 'generate', 'inspect']));
    for (const c of commands) {
      const r = run(c, '--help');
      expect(r.status, c).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Usage: vitrine ${c}`));
    }
  });

  it('rejects bad option values naming the option', () => {
    const r = run('generate', '--out', '/tmp/x', '--seed', 'abc');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/option '--seed <n>' argument 'abc' is invalid\. expected an integer/);
    for (const [weights, why] of [
      ['view=0', /view needs a weight above 0 and at most 100/],
      ['like=2', /"like" is not a positive event type \(one of view, click, cart, purchase, rate\)/],
      ['dislike=1', /"dislike" is not a positive event type/],
      ['purchase', /purchase needs a weight/],
    ] as const) {
      const w = run('train', '--data', 'synthetic:tiny', '--event-weights', weights);
      expect(w.status, weights).toBe(2);
      expect(w.stderr).toMatch(why);
    }
    for (const [layers, why] of [
      ['64,0', /argument '64,0' is invalid\. expected an integer between 1 and 1024, got 0/],
      ['64,,32', /expected an integer, got ""/],
      ['8,8,8,8,8', /expected at most 4 comma-separated integers, got 5/],
    ] as const) {
      const r = run('train', '--data', 'synthetic:tiny', '--ranker-layers', layers);
      expect([r.status, r.stderr], layers).toEqual([2, expect.stringMatching(why)]);
    }
    // The attribute source's places come out of HNSW's: refused before any data is read.
    for (const [places, why] of [
      ['abc', /argument 'abc' is invalid\. expected 'auto' or a whole number, got "abc"/],
      ['-5', /argument '-5' is invalid\. expected 'auto' or a whole number/],
      [
        '60',
        /--attribute-candidates: 60 is not allowed: 'auto' or a whole number from 0 to 50 \(its places are taken from --candidates 200/,
      ],
    ] as const) {
      const r = run('train', '--data', 'synthetic:tiny', '--attribute-candidates', places);
      expect([r.status, r.stderr], places).toEqual([2, expect.stringMatching(why)]);
    }
    const fewer = run('train', '--data', 'synthetic:tiny', '--candidates', '20', '--attribute-candidates', '20');
    expect(fewer.stderr).toMatch(/from 0 to 19 \(its places are taken from --candidates 20/);
    const size = run('generate', '--out', '/tmp/x', '--size', 'huge');
    expect(size.stderr).toMatch(/expected one of tiny, small, medium, large/);
    // Sizes that would exhaust memory or never finish are refused up front.
    expect(run('generate', '--out', '/tmp/x', '--items', '1000000000').stderr).toMatch(
      /option '--items <n>' argument '1000000000' is invalid/,
    );
    const huge = run('generate', '--out', '/tmp/x', '--users', '1000000', '--items', '1000000');
    expect([huge.status, huge.stderr]).toEqual([
      2,
      expect.stringMatching(/users × items is 1000000 × 1000000; at most 10\^10/),
    ]);
    // A shop with (almost) no sessions would be written, then refused by every loader.
    expect(run('generate', '--out', '/tmp/x', '--size', 'tiny', '--sessions-per-week', '0.001').stderr).toMatch(
      /expects 0\.120 sessions in all; at least 10/,
    );
  });

  it('names the path and the reason when a file cannot be written, without a stack trace', () => {
    const r = run('generate', '--out', '/dev/null/shop', '--size', 'tiny');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^vitrine: \/dev\/null\/shop cannot be created: \/dev\/null is not a directory\n$/);
  });

  it('turns a file-system error on a named path into the path and a reason', () => {
    let err: unknown;
    try {
      readFileSync('/dev/null/nothing');
    } catch (e) {
      err = e;
    }
    expect(fileSystemReason(err)).toBe('/dev/null/nothing: a part of the path is not a directory');
    expect(fileSystemReason(new Error('plain'))).toBeUndefined();
    // A write on an open file (a full disk) has no path to name.
    expect(
      fileSystemReason(
        Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' }),
      ),
    ).toBe('write failed: no space left on the device');
  });

  it('never replaces a directory that is not its own earlier output', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-out-'));
    writeFileSync(join(dir, 'thesis.txt'), 'mine');
    const gen = run('generate', '--out', dir, '--size', 'tiny');
    expect([gen.status, gen.stderr]).toEqual([
      2,
      expect.stringMatching(
        /already holds files and is not a generated shop \(no meta\.json written by Vitrine\); refusing to replace it/,
      ),
    ]);
    const train = run('train', '--data', 'synthetic:tiny', '--out', dir);
    expect([train.status, train.stderr]).toEqual([
      2,
      expect.stringMatching(/already holds files and is not a bundle version \(no manifest\.json written by Vitrine\)/),
    ]);
    // A file of the marker's name that another tool wrote (a web app's manifest, an export's
    // meta.json) does not make the directory ours.
    writeFileSync(join(dir, 'manifest.json'), '{"name":"My PWA"}');
    writeFileSync(join(dir, 'meta.json'), '{"exported_by":"shopify"}');
    expect(run('train', '--data', 'synthetic:tiny', '--out', dir).stderr).toMatch(
      /is not a bundle version \(no manifest\.json written by Vitrine\)/,
    );
    expect(run('generate', '--out', dir, '--size', 'tiny').stderr).toMatch(
      /is not a generated shop \(no meta\.json written by Vitrine\)/,
    );
    expect(readFileSync(join(dir, 'thesis.txt'), 'utf8')).toBe('mine');
    // Its own output is replaced: generating twice into one directory works.
    const shop = join(dir, 'shop');
    expect(run('generate', '--out', shop, '--size', 'tiny').status).toBe(0);
    expect(run('generate', '--out', shop, '--size', 'tiny', '--seed', '7').status).toBe(0);
    // A link would be replaced by a directory, its target never written; the working directory
    // would be pulled from under the shell.
    symlinkSync(shop, join(dir, 'link'));
    expect(run('generate', '--out', join(dir, 'link'), '--size', 'tiny').stderr).toMatch(
      /link is a symbolic link \(to .*shop\); name the directory itself/,
    );
    const empty = mkdtempSync(join(tmpdir(), 'vitrine-cwd-'));
    const here = spawnSync(process.execPath, [cliPath, 'generate', '--out', '.', '--size', 'tiny'], {
      encoding: 'utf8',
      cwd: empty,
    });
    expect([here.status, here.stderr]).toEqual([
      2,
      expect.stringMatching(/vitrine-cwd-\w+ is the current directory or holds it/),
    ]);
  });

  it('refuses a damaged bundle by file and reason, and checks outputs and names before any work', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-damaged-'));
    const good = join(dir, 'models', 'v1');
    expect(run('train', '--data', 'synthetic:tiny', '--out', good, '--no-evaluate').status).toBe(0);
    const damaged = (name: string, edit: (files: Record<string, unknown>) => void): string => {
      const copy = join(dir, 'models', name);
      cpSync(good, copy, { recursive: true });
      const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8')) as {
        files: Record<string, unknown>;
      };
      edit(manifest.files);
      writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest));
      return copy;
    };
    const evaluate = (bundle: string, ...more: string[]) =>
      run('evaluate', '--bundle', bundle, '--data', 'synthetic:tiny', '--no-save', ...more);
    // An HNSW partition left out of the list would be opened unchecked.
    const unlisted = evaluate(damaged('no-hnsw', (f) => delete f['hnsw_0.bin']));
    expect([unlisted.status, unlisted.stderr]).toEqual([
      2,
      expect.stringMatching(
        /^vitrine: .*manifest\.json: no entry for hnsw_0\.bin .*the bundle is incomplete or damaged/,
      ),
    ]);
    expect(evaluate(damaged('no-array', (f) => delete f['knn_indptr.i32'])).stderr).toMatch(
      /^vitrine: .*no entry for knn_indptr\.i32/,
    );
    expect(evaluate(damaged('escape', (f) => (f['../../x.json'] = f['model.json']))).stderr).toMatch(
      /^vitrine: .*file name "\.\.\/\.\.\/x\.json" is not a plain file name/,
    );
    // The report may replace an earlier report, never another file; told before the evaluation runs.
    const data = join(dir, 'events.csv');
    writeFileSync(data, 'user_id,item_id\n');
    const report = evaluate(good, '--report', data);
    expect([report.status, report.stderr]).toEqual([
      2,
      expect.stringMatching(/--report .*events\.csv: exists and is not an evaluation report; refusing to replace it/),
    ]);
    expect(readFileSync(data, 'utf8')).toBe('user_id,item_id\n');
    // An empty file (mktemp's) may take the report; a link may not (the rename would replace it).
    const empty = join(dir, 'empty.json');
    writeFileSync(empty, '');
    expect(evaluate(good, '--report', empty, '--json').status).toBe(0);
    expect(JSON.parse(readFileSync(empty, 'utf8'))).toHaveProperty('models');
    symlinkSync(empty, join(dir, 'link.json'));
    expect(evaluate(good, '--report', join(dir, 'link.json')).stderr).toMatch(
      /--report .*link\.json: is a symbolic link/,
    );
    for (const lambda of ['0x10', 'Infinity', '1e-300'])
      expect(evaluate(good, '--ease-lambda', lambda).stderr, lambda).toMatch(
        /option '--ease-lambda <x>' argument .* is invalid/,
      );
    // A bundle name is one directory level under models/, not a path.
    expect(run('train', '--data', 'synthetic:tiny', '--bundle', '../../etc').stderr).toMatch(
      /option '--bundle <name>' argument '\.\.\/\.\.\/etc' is invalid.*use --out for a path/,
    );
    // Node's recursive mkdir never returns under /proc; the output is refused at once instead.
    const proc = spawnSync(
      process.execPath,
      [cliPath, 'train', '--data', 'synthetic:tiny', '--out', '/proc/vitrine-x/v1'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect([proc.status, proc.stderr]).toEqual([
      2,
      expect.stringMatching(/^vitrine: \/proc\/vitrine-x\/v1 cannot be created: ENOENT/),
    ]);
  });

  it('claims a new version name at once, so builds started in the same second get different ones', () => {
    const bundleDir = join(mkdtempSync(join(tmpdir(), 'vitrine-names-')), 'shop');
    // One clock reading for all three: the test is about names claimed within one second.
    const at = new Date();
    const first = newVersion(bundleDir, at);
    const second = newVersion(bundleDir, at);
    expect(second.path).not.toBe(first.path);
    // The claim is a hidden file: nothing that looks like a version exists until the build writes it.
    expect(existsSync(first.path) || existsSync(second.path)).toBe(false);
    first.release();
    expect(newVersion(bundleDir, at).path).toBe(first.path);
  });

  it('reports what --lenient skipped when training, records it (and the --hnsw-m and --ranker-layers it was given), and evaluates the bundle the same way', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-lenient-'));
    const shop = join(dir, 'shop');
    expect(run('generate', '--out', shop, '--size', 'tiny').status).toBe(0);
    appendFileSync(
      join(shop, 'events.csv'),
      readFileSync(join(shop, 'events.csv'), 'utf8')
        .split('\n')[1]
        .replace(/,(view|click|cart|purchase),/, ',like,') + '\n',
    );
    const out = join(dir, 'models', 'v1');
    const shape = ['--hnsw-m', '8', '--ranker-layers', '16,8'];
    const train = run('train', '--data', shop, '--lenient', '--out', out, '--no-evaluate', ...shape);
    expect(train.status, train.stderr).toBe(0);
    expect(train.stderr).toMatch(/skipped 1 bad input records \(--lenient\): 1 × type: unknown event type/);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
      data: { skipped: { skipped: number } };
      parameters: { hnsw: { M: number }; ranker: { hidden: number[] } };
    };
    expect(manifest.data.skipped.skipped).toBe(1);
    expect(manifest.parameters.hnsw.M).toBe(8);
    expect(manifest.parameters.ranker.hidden).toEqual([16, 8]);
    const evaluate = run('evaluate', '--bundle', out, '--data', shop, '--json', '--no-save');
    expect(evaluate.status, evaluate.stderr).toBe(0);
    expect(evaluate.stderr).toMatch(/skipped 1 bad input records/);
  });

  it('evaluate skips the EASE baseline over --ease-fit-max-items, saying so, and reports the rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-ease-'));
    const shop = join(dir, 'shop');
    expect(run('generate', '--out', shop, '--size', 'tiny').status).toBe(0);
    const out = join(dir, 'models', 'v1');
    // No EASE stored in the bundle, so evaluation would have to fit one.
    expect(run('train', '--data', shop, '--out', out, '--no-evaluate', '--ease-max-items', '0').status).toBe(0);
    const skipped = run(
      'evaluate',
      '--bundle',
      out,
      '--data',
      shop,
      '--ease-fit-max-items',
      '50',
      '--json',
      '--no-save',
    );
    expect(skipped.status, skipped.stderr).toBe(0);
    expect(skipped.stderr).toMatch(
      /EASE skipped: 120 items is over the EASE fit limit of 50 .*--ease-fit-max-items raises it/,
    );
    const report = JSON.parse(skipped.stdout) as {
      models: Record<string, unknown>;
      ease: { lambda: number | null; source: string };
      twoStageVsEase: number | null;
    };
    expect(report.ease).toMatchObject({ lambda: null, source: 'skipped' });
    expect(report.twoStageVsEase).toBeNull();
    expect(Object.keys(report.models).some((m) => m.startsWith('ease'))).toBe(false);
    expect(Object.keys(report.models)).toEqual(
      expect.arrayContaining(['popularity', 'two-stage: retrieval -> ranker']),
    );
    // The variant where repeats count ranks the same models, EASE again left out.
    const repeats = run(
      'evaluate',
      ...['--bundle', out, '--data', shop, '--json', '--no-save'],
      '--protocol',
      'repeats',
      '--ease-fit-max-items',
      '50',
    );
    expect(repeats.status, repeats.stderr).toBe(0);
    const variant = (JSON.parse(repeats.stdout) as { repeats: { models: Record<string, unknown> } }).repeats;
    expect(Object.keys(variant.models)).toEqual(['popularity', BUY_AGAIN, TWO_STAGE_REPEATS]);
    const bad = run('evaluate', '--bundle', out, '--data', shop, '--protocol', 'leave-one-out');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--protocol.*standard, repeats/);
    // Under the limit it is fit for the evaluation.
    const fitted = run('evaluate', '--bundle', out, '--data', shop, '--json', '--no-save');
    expect((JSON.parse(fitted.stdout) as { ease: { source: string } }).ease.source).toBe('fit for this evaluation');
  });

  it("evaluate reproduces the report train stored, using the bundle's seed by default", () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-seed-'));
    const shop = join(dir, 'shop');
    expect(run('generate', '--out', shop, '--size', 'tiny', '--seed', '3').status).toBe(0);
    const out = join(dir, 'models', 'v1');
    expect(run('train', '--data', shop, '--seed', '3', '--out', out).status).toBe(0);
    const stored = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).metrics as {
      ranker: { auc: number };
      models: Record<string, { 'ndcg@10': number }>;
    };
    const evaluate = run('evaluate', '--bundle', out, '--data', shop, '--json', '--no-save');
    expect(evaluate.status, evaluate.stderr).toBe(0);
    const again = JSON.parse(evaluate.stdout) as typeof stored;
    expect(again.ranker.auc).toBe(stored.ranker.auc);
    const quality = (r: typeof stored): Record<string, number> =>
      Object.fromEntries(Object.entries(r.models).map(([name, m]) => [name, m['ndcg@10']]));
    expect(quality(again)).toEqual(quality(stored));
  });

  it('builds byte-identical artefacts from the same data and --seed, and different ones from another seed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-repro-'));
    const shop = join(dir, 'shop');
    expect(run('generate', '--out', shop, '--size', 'tiny', '--seed', '4').status).toBe(0);
    const files = (seed: string, name: string): Record<string, string> => {
      const out = join(dir, 'models', name);
      const r = run('train', '--data', shop, '--seed', seed, '--out', out);
      expect(r.status, r.stderr).toBe(0);
      const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
        files: Record<string, { sha256: string }>;
      };
      return Object.fromEntries(Object.entries(manifest.files).map(([f, e]) => [f, e.sha256]));
    };
    const first = files('9', 'a');
    expect(Object.keys(first)).toEqual(expect.arrayContaining(['als_item_factors.f32', 'ranker.onnx', 'hnsw_0.bin']));
    expect(files('9', 'b')).toEqual(first);
    const other = files('10', 'c');
    expect(other['als_item_factors.f32']).not.toBe(first['als_item_factors.f32']);
    expect(other['ranker.onnx']).not.toBe(first['ranker.onnx']);
  });

  it('shows undefined metrics as "-" and says why when no test item can be counted', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-repeats-'));
    // Every shopper's last two events repeat their first two: the protocol counts none of them.
    const lines = ['user_id,item_id,type,timestamp'];
    for (let u = 0; u < 40; u++) {
      const own = Array.from({ length: 6 }, (_, j) => `i${(u * 7 + j * 2) % 15}`);
      [...own, own[0], own[1]].forEach((item, t) => lines.push(`u${u},${item},view,${1_700_000_000 + u * 100 + t}`));
    }
    writeFileSync(join(dir, 'events.csv'), lines.join('\n') + '\n');
    const train = run('train', '--data', dir, '--out', join(dir, 'models', 'v1'));
    expect(train.status, train.stderr).toBe(0);
    expect(train.stderr).toMatch(
      /warning: no test user has a test item outside their train history \(100\.0% of test interactions repeat/,
    );
    expect(train.stdout).toMatch(/two-stage: retrieval -> ranker +- +- +- +- +-/);
    expect(train.stdout).toMatch(/two-stage NDCG@10 \/ EASE NDCG@10 = -/);
    expect(train.stdout).toMatch(/precision +-/);
    const report = JSON.parse(readFileSync(join(dir, 'models', 'v1', 'manifest.json'), 'utf8')).metrics as {
      models: Record<string, Record<string, number | null>>;
    };
    expect(report.models['two-stage: retrieval -> ranker']['ndcg@10']).toBeNull();
  });

  it('finds the shared data sets from any working directory', () => {
    const r = spawnSync(process.execPath, [cliPath, 'inspect', '--data', 'ml-100k', '--json'], {
      encoding: 'utf8',
      cwd: '/',
      env: { ...process.env, VITRINE_PROGRESS: '0', VITRINE_DATA: '' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ dataset: { format: 'movielens-100k', events: 100000 } });
  });

  it('rejects an unknown --data value with advice', () => {
    const r = run('inspect', '--data', 'no-such-set');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--data: "no-such-set" is not a directory.*VITRINE_DATA/);
  });
});
