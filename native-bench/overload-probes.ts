/**
 * What the overload envelope watches beside its load: /healthz from a process of its own, the
 * server's memory, and clients that send and never read their replies.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

export const rssMiB = (pid: number): number =>
  Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);

/** A phase's /healthz figures, where the server has one. */
export interface Healthz {
  healthzMaxMs?: number;
  healthzProbes?: number;
  /** The poller's first fetch, made before the phase (not counted in healthzMaxMs). */
  healthzColdMs?: number;
}

/** The /healthz figures as the printed table says them. */
export const healthzText = (h: Healthz): string =>
  h.healthzMaxMs !== undefined
    ? `, /healthz slowest ${h.healthzMaxMs} ms of ${h.healthzProbes} (the poller's cold first fetch, not counted: ${h.healthzColdMs} ms)`
    : '';

/**
 * The slowest /healthz answer while `during` runs, polled every 50 ms from a process of its own: the
 * load generator's event loop is busy sending, and would add its own delays to the figure. The
 * poller's first fetch is made before `during` starts and not counted: it loads undici and compiles
 * it, 70-80 ms on an idle machine here and more on busy cores, which earlier runs took for the server's.
 */
export async function healthzWhile<T>(
  port: number | undefined,
  during: () => Promise<T>,
): Promise<{ value: T } & Healthz> {
  if (port === undefined) return { value: await during() };
  const poller = spawn(process.execPath, ['-e', POLLER, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise<void>((r) =>
    poller.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) r();
    }),
  );
  const exited = new Promise((r) => poller.once('exit', r));
  await Promise.race([ready, exited]);
  const value = await during();
  poller.kill('SIGTERM');
  await exited;
  const last = out.trim().split('\n').pop() ?? '';
  const { max, probes, cold } = JSON.parse(last.startsWith('{') ? last : '{}') as Record<string, number | undefined>;
  return { value, ...(max !== undefined && { healthzMaxMs: max, healthzProbes: probes, healthzColdMs: cold }) };
}
const POLLER = `
const port = process.argv[1];
const probe = () =>
  fetch('http://127.0.0.1:' + port + '/healthz', { signal: AbortSignal.timeout(5000) })
    .then((r) => r.arrayBuffer())
    .catch(() => undefined);
let worst = 0, probes = 0, stop = false;
process.on('SIGTERM', () => (stop = true));
(async () => {
  const t = performance.now();
  await probe();
  const cold = performance.now() - t;
  console.log('ready');
  while (!stop) {
    const t0 = performance.now();
    await probe();
    worst = Math.max(worst, performance.now() - t0);
    probes++;
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log(JSON.stringify({ max: Number(worst.toFixed(1)), probes, cold: Number(cold.toFixed(1)) }));
})();`;

/** Clients that send and never read: each pauses its socket, then sends `requests` recommend calls. */
export async function slowReaders(
  url: string,
  n: number,
  requests: number,
  users: string[],
  stop: () => boolean,
): Promise<() => void> {
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<WebSocket>((res, rej) => {
          const ws = new WebSocket(url);
          ws.once('open', () => res(ws));
          ws.once('error', rej);
        }),
    ),
  );
  for (const ws of sockets) {
    ws.on('error', () => undefined);
    // The ws library reads from this net.Socket; paused, nothing is read and the server's replies pile up.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }
  // In rounds, yielding between them, so the RSS sampler runs while requests go out and can stop
  // a server that grows past the cap (sent in one go, they took seconds in which nothing ran).
  for (let r = 0; r < requests && !stop(); r += 500) {
    for (const [j, ws] of sockets.entries())
      for (let q = r; q < Math.min(requests, r + 500); q++)
        ws.send(JSON.stringify({ id: q, call: 'recommend', user: users[(j * 7919 + q) % users.length], k: 10 }));
    await new Promise((w) => setImmediate(w));
  }
  return () => sockets.forEach((ws) => ws.terminate());
}
