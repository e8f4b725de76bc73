import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cliPath } from './helpers/paths.js';

const run = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, VITRINE_PROGRESS: '0' } });

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
    const size = run('generate', '--out', '/tmp/x', '--size', 'huge');
    expect(size.stderr).toMatch(/expected one of tiny, small, medium, large/);
  });

  it('names the path and the reason when a file cannot be written, without a stack trace', () => {
    const r = run('generate', '--out', '/dev/null/shop', '--size', 'tiny');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^vitrine: \/dev\/null\/\S+: a part of the path is not a directory\n$/);
  });

  it('finds the shared data sets from any working directory', () => {
    const r = spawnSync(process.execPath, [cliPath, 'inspect', '--data', 'ml-100k', '--json'], { encoding: 'utf8', cwd: '/', env: { ...process.env, VITRINE_PROGRESS: '0', VITRINE_DATA: '' } });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ dataset: { format: 'movielens-100k', events: 100000 } });
  });

  it('rejects an unknown --data value with advice', () => {
    const r = run('inspect', '--data', 'no-such-set');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--data: "no-such-set" is not a directory.*VITRINE_DATA/);
  });
});
