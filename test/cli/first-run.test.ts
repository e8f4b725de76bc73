import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath, tempDir } from '../helpers/paths.js';

const env = { ...process.env, VITRINE_PROGRESS: '0' };
const run = (args: string[], cwd?: string) =>
  spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env, cwd });

/** Starts a command, sends it SIGINT after `ms`, and resolves with its exit code and how long it took to go. */
async function interrupt(
  args: string[],
  cwd: string,
  ms: number,
): Promise<{ code: number | null; signal: string | null; seconds: number }> {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd, env, stdio: 'ignore' });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  await new Promise((r) => setTimeout(r, ms));
  const t0 = performance.now();
  child.kill('SIGINT');
  const { code, signal } = await exited;
  return { code, signal, seconds: (performance.now() - t0) / 1000 };
}

describe('the first run', () => {
  it('names a misspelt flag rather than a required one it hides, and suggests the data set meant', () => {
    const flag = run(['train', '--dataset', 'ml-100k']);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/unknown option '--dataset'\n\(Did you mean --data\?\)/);
    expect(run(['train', '--seed', '3']).stderr).toMatch(/required option '-d, --data <dir\|name>' not specified/);
    const name = run(['inspect', '--data', 'ml100k']);
    expect(name.status).toBe(2);
    expect(name.stderr).toMatch(/did you mean "ml-100k"\?/);
    expect(run(['inspect', '--data', 'synthetc:tiny']).stderr).toMatch(/did you mean "synthetic:tiny"/);
    expect(run(['inspect', '--data', 'zzzz-qqqq']).stderr).toMatch(/\(known: .*amazon-beauty.*ml-100k.*synthetic:tiny/);
  });

  it('stops a build within 2 s of Ctrl-C, leaving no version behind', async () => {
    const cwd = tempDir();
    expect(run(['generate', '--out', join(cwd, 'shop'), '--size', 'small']).status).toBe(0);
    // Two seconds in, the build is deep in its embedding contest (ALS sweeps that never yield).
    const r = await interrupt(['train', '--data', join(cwd, 'shop'), '--bundle', 'shop'], cwd, 2000);
    expect(r.signal ?? r.code).toBe('SIGINT');
    expect(r.seconds).toBeLessThan(2);
    // On a loaded machine the Ctrl-C can land before the build made the bundle's directory at all.
    const bundleDir = join(cwd, 'models', 'shop');
    const kept = existsSync(bundleDir) ? readdirSync(bundleDir).filter((f) => !f.startsWith('.')) : [];
    expect(kept).toEqual([]);
    // The claim it held is released by the next build's claim (its process is gone).
    expect(
      run(['train', '--data', 'synthetic:tiny', '--bundle', 'shop', '--no-evaluate', '--no-tune'], cwd).status,
    ).toBe(0);
    const left = readdirSync(join(cwd, 'models', 'shop'));
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^v\d{8}-\d{6}$/);
  });

  it('stops generating within 2 s of Ctrl-C, leaving no shop behind', async () => {
    const cwd = tempDir();
    const r = await interrupt(['generate', '--out', join(cwd, 'shop'), '--size', 'large'], cwd, 1500);
    expect(r.signal === 'SIGINT' || r.code === 130).toBe(true);
    expect(r.seconds).toBeLessThan(2);
    expect(readdirSync(cwd)).toEqual([]);
  });
});
