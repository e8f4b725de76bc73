import { Worker } from 'node:worker_threads';

/**
 * How promptly this machine runs a thread that was waiting, measured on the idle machine before a
 * latency benchmark: a served request crosses threads twice (main thread to worker and back), so a
 * virtual machine that is slow to wake an idle vCPU puts its delays straight into the tail. Two
 * machines with the same throughput can differ here by 100×, and a p99 read without this figure
 * cannot tell the server from the host.
 */
export interface SchedulingCheck {
  /** Messages sent to a worker thread and echoed back, one at a time, 1 ms apart. */
  trips: number;
  roundTripMs: { p50: number; p99: number; max: number };
  /** How late a 1 ms timer fired on the main thread. */
  timerLateMs: { p50: number; p99: number; max: number };
  /**
   * What the `postMessage` call itself costs the sending thread, µs: to the worker waiting for a
   * message (the trips above), and to the worker while it runs. Waking a thread whose vCPU has gone
   * idle is an interrupt to another CPU, which in a virtual machine the hypervisor delivers: the
   * difference is what every hand-off to an idle worker costs the thread that makes it.
   */
  postUs?: {
    toWaiting: { p50: number; p99: number; max: number };
    toRunning: { p50: number; p99: number; max: number };
  };
}

// Echoes each message; `{ spin: ms }` keeps the thread running that long first.
const ECHO = `const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => {
  if (m && m.spin) for (const t = Date.now(); Date.now() - t < m.spin; );
  parentPort.postMessage(m);
});`;

const summary = (xs: number[]): { p50: number; p99: number; max: number } => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number): number => Number(s[Math.floor(p * (s.length - 1))].toFixed(3));
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
};

/** Sends `m` and resolves with the reply; `posted` gets how long the postMessage call took, ms. */
const echo = (worker: Worker, m: unknown, posted?: number[]): Promise<unknown> =>
  new Promise((resolve) => {
    worker.once('message', resolve);
    const t = performance.now();
    worker.postMessage(m);
    posted?.push(performance.now() - t);
  });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** postMessage calls timed while the worker spins (it needs no waking), ms. */
async function postsToRunning(worker: Worker, n: number): Promise<number[]> {
  const posted: number[] = [];
  for (let i = 0; i < n; i++) {
    const spinning = echo(worker, { spin: 3 });
    await sleep(1);
    const second = echo(worker, i, posted);
    await spinning;
    await second;
  }
  return posted;
}

/** Trips before timing starts: the worker's first answer waits for its start-up (about 50 ms). */
const WARM_UP = 20;

export async function checkScheduling(trips = 1000): Promise<SchedulingCheck> {
  const worker = new Worker(ECHO, { eval: true });
  const round: number[] = [];
  const late: number[] = [];
  const toWaiting: number[] = [];
  let toRunning: number[];
  try {
    await new Promise((resolve) => worker.once('online', resolve));
    for (let i = 0; i < WARM_UP; i++) await echo(worker, i);
    for (let i = 0; i < trips; i++) {
      const sent = performance.now();
      await echo(worker, i, toWaiting);
      round.push(performance.now() - sent);
      const asked = performance.now();
      await sleep(1);
      late.push(Math.max(0, performance.now() - asked - 1));
    }
    toRunning = await postsToRunning(worker, Math.min(trips, 200));
  } finally {
    await worker.terminate();
  }
  const us = (xs: number[]) => summary(xs.map((x) => x * 1000));
  return {
    trips,
    roundTripMs: summary(round),
    timerLateMs: summary(late),
    postUs: { toWaiting: us(toWaiting), toRunning: us(toRunning) },
  };
}

/** Run on the idle machine before any server starts: prints the check (stderr) and returns it for the JSON. */
export async function checkMachine(): Promise<SchedulingCheck> {
  const c = await checkScheduling();
  process.stderr.write(`${describeScheduling(c)}\n`);
  return c;
}

function describeScheduling(c: SchedulingCheck): string {
  const r = c.roundTripMs;
  const t = c.timerLateMs;
  const p = c.postUs;
  const posts = p
    ? `; postMessage costs the sender p50 ${p.toWaiting.p50.toFixed(1)} / p99 ${p.toWaiting.p99.toFixed(1)} µs to a waiting worker, ${p.toRunning.p50.toFixed(1)} / ${p.toRunning.p99.toFixed(1)} µs to a running one`
    : '';
  return `machine check (idle, ${c.trips} trips 1 ms apart): a message to a worker thread and back p50 ${r.p50} / p99 ${r.p99} / max ${r.max} ms; a 1 ms timer late by p99 ${t.p99} / max ${t.max} ms${posts}`;
}
