#!/usr/bin/env node
// Runs the README's quick start, in the README's order, on a fresh clone of this checkout: `npm install`,
// `npx vitrine --help`, `npm start` until it serves, one recommend call, then Ctrl-C. Prints how long
// each step took and fails (exit 1) if a step fails or the demo takes more than 90 s to serve. The
// clone gets `../shared` beside it, as CI's does. CI runs it after the tests.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = mkdtempSync(join(tmpdir(), 'vitrine-quick-start-'));
const clone = join(root, 'main');
const seconds = (t0) => ((performance.now() - t0) / 1000).toFixed(1);
const fail = (message) => {
  console.error(`quick start: ${message}`);
  process.exit(1);
};

try {
  symlinkSync(resolve(repo, '..', 'shared'), join(root, 'shared'));
  execFileSync('git', ['clone', '--quiet', repo, clone]);
  let t0 = performance.now();
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: clone, stdio: ['ignore', 'ignore', 'inherit'] });
  const install = seconds(t0);
  t0 = performance.now();
  const help = execFileSync('npx', ['vitrine', '--help'], { cwd: clone, encoding: 'utf8' });
  if (!/Usage: vitrine/.test(help)) fail(`npx vitrine --help printed no usage:\n${help}`);
  const helpTime = seconds(t0);
  t0 = performance.now();
  const demo = spawn('npm', ['start'], {
    cwd: clone,
    env: { ...process.env, VITRINE_PORT: '0' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  demo.stdout.on('data', (d) => (out += d));
  demo.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => demo.once('exit', r));
  while (!/Press Ctrl-C to stop/.test(out)) {
    if (demo.exitCode !== null) fail(`npm start exited before serving:\n${out}`);
    if (performance.now() - t0 > 300_000) fail(`npm start did not serve within 5 minutes:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const serving = seconds(t0);
  const base = /Vitrine is serving bundle \S+ at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)[1];
  const reply = await (await fetch(`${base}/v1/recommend`, { method: 'POST', body: '{"user":"u12","k":5}' })).json();
  if (reply.result?.items?.length !== 5)
    fail(`the printed example call did not answer 5 items: ${JSON.stringify(reply)}`);
  t0 = performance.now();
  process.kill(-demo.pid, 'SIGINT');
  await exited;
  const stop = seconds(t0);
  console.log(
    `quick start on a fresh clone: npm install ${install} s; npx vitrine --help ${helpTime} s; npm start serving after ${serving} s (recommend answered); Ctrl-C stopped it in ${stop} s`,
  );
  if (Number(serving) > 90) fail(`the demo took ${serving} s to serve; the goal is 90 s`);
  if (Number(stop) > 2) fail(`Ctrl-C took ${stop} s; the goal is 2 s`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
