import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { VitrineServer } from '../../src/serve/server.js';
import { TestClient } from '../helpers/client.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { freePort, TestRedis } from '../helpers/redis.js';
import { startTestServer } from '../helpers/server.js';

/**
 * The load-balancer configurations docs/state.md gives, run as they are (only the addresses and
 * ports replaced) in front of two replicas sharing one Redis.
 */
const bundle = inject('fixtureBundle');
type Items = { items: { id: string }[] };

interface Balancer {
  name: string;
  file: string;
  /** The documented config with the test's addresses. */
  render: (text: string, port: number, replicas: { port: number; probe: number }[]) => string;
  start: (config: string, dir: string) => ChildProcess;
}

const balancers: Balancer[] = [
  {
    name: 'nginx',
    file: 'docs/deploy/nginx.conf',
    render: (text, port, [a, b]) =>
      text
        .replace('listen 80;', `listen 127.0.0.1:${port};`)
        .replace('10.0.0.11:8080', `127.0.0.1:${a.port}`)
        .replace('10.0.0.12:8080', `127.0.0.1:${b.port}`),
    start: (config, dir) => {
      mkdirSync(join(dir, 'logs'), { recursive: true });
      return spawn('nginx', ['-p', dir, '-c', config, '-g', `daemon off; pid ${dir}/nginx.pid; error_log stderr;`], {
        stdio: ['ignore', 'inherit', 'pipe'],
      });
    },
  },
  {
    name: 'HAProxy',
    file: 'docs/deploy/haproxy.cfg',
    render: (text, port, [a, b]) =>
      text
        .replace('bind :80', `bind 127.0.0.1:${port}`)
        .replace('10.0.0.11:8080 check port 9091', `127.0.0.1:${a.port} check port ${a.probe}`)
        .replace('10.0.0.12:8080 check port 9091', `127.0.0.1:${b.port} check port ${b.probe}`),
    start: (config) => spawn('haproxy', ['-f', config, '-db'], { stdio: ['ignore', 'inherit', 'pipe'] }),
  },
];

const requestsServed = async (s: VitrineServer): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text();
  return [...text.matchAll(/^vitrine_requests_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
};

describe.each(balancers)('$name in front of two replicas (docs/deploy)', (lb) => {
  let redis: TestRedis;
  const replicas: VitrineServer[] = [];
  let proxy: ChildProcess;
  let url: string;
  let stderr = '';

  beforeAll(async () => {
    redis = await TestRedis.start({ appendfsync: 'always' });
    for (let r = 0; r < 2; r++) {
      const s = await startTestServer(bundle, { probePort: await freePort(), clock: 'bundle', store: redis.url });
      replicas.push(s);
    }
    const port = await freePort();
    const dir = tempDir();
    const config = join(dir, lb.file.split('/').pop()!);
    const documented = readFileSync(join(repoRoot, lb.file), 'utf8');
    const rendered = lb.render(
      documented,
      port,
      replicas.map((s) => ({ port: s.port, probe: s.probePort! })),
    );
    expect(rendered).not.toMatch(/10\.0\.0\.|listen 80;|bind :80|check port 9091/);
    writeFileSync(config, rendered);
    proxy = lb.start(config, dir);
    proxy.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    url = `http://127.0.0.1:${port}`;
    // Ready once it answers through to a replica.
    for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 100))) {
      const ok = await fetch(`${url}/readyz`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${lb.name} did not start: ${stderr}`);
    }
  }, 60_000);
  afterAll(async () => {
    proxy?.kill('SIGTERM');
    for (const s of replicas) await s.shutdown();
    await redis?.stop();
  });

  it('spreads WebSocket connections over both replicas, which share every event', async () => {
    const before = await Promise.all(replicas.map(requestsServed));
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => TestClient.connect(`${url.replace('http', 'ws')}/ws`)),
    );
    try {
      const first = (await clients[0].request({ call: 'recommend', user: 'u12', k: 10 })).result as Items;
      const bought = first.items[0].id;
      expect(
        (await clients[1].request({ call: 'event', user: 'u12', item: bought, type: 'purchase', price: 20 })).result,
      ).toMatchObject({ accepted: true });
      // Whichever replica each connection reached, every one now leaves the bought item out.
      for (const c of clients) {
        const r = (await c.request({ call: 'recommend', user: 'u12', k: 10 })).result as Items;
        expect(r.items.map((x) => x.id)).not.toContain(bought);
      }
      const after = await Promise.all(replicas.map(requestsServed));
      expect(after.map((n, j) => n - before[j]).every((n) => n > 0)).toBe(true);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('answers HTTP calls through it, and keeps answering when a replica stops', async () => {
    const call = async (): Promise<number> =>
      (await fetch(`${url}/v1/recommend`, { method: 'POST', body: '{"user":"u7","k":3}' })).status;
    expect(await call()).toBe(200);
    await replicas.pop()!.shutdown();
    // The stopped replica drained first; a request sent its way afterwards goes to the other one
    // (nginx retries a refused connection, HAProxy's probe check has marked it down).
    const statuses: number[] = [];
    for (let j = 0; j < 10; j++) statuses.push(await call());
    expect(statuses).toEqual(Array(10).fill(200));
  });
});
