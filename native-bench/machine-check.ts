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
}

const ECHO = `require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));`;

const summary = (xs: number[]): { p50: number; p99: number; max: number } => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number): number => Number(s[Math.floor(p * (s.length - 1))].toFixed(3));
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
};

const echo = (worker: Worker, i: number): Promise<unknown> =>
  new Promise((resolve) => {
    worker.once('message', resolve);
    worker.postMessage(i);
  });

/** Trips before timing starts: the worker's first answer waits for its start-up (about 50 ms). */
const WARM_UP = 20;

export async function checkScheduling(trips = 1000): Promise<SchedulingCheck> {
  const worker = new Worker(ECHO, { eval: true });
  const round: number[] = [];
  const late: number[] = [];
  try {
    await new Promise((resolve) => worker.once('online', resolve));
    for (let i = 0; i < WARM_UP; i++) await echo(worker, i);
    for (let i = 0; i < trips; i++) {
      const sent = performance.now();
      await echo(worker, i);
      round.push(performance.now() - sent);
      const asked = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 1));
      late.push(Math.max(0, performance.now() - asked - 1));
    }
  } finally {
    await worker.terminate();
  }
  return { trips, roundTripMs: summary(round), timerLateMs: summary(late) };
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
  return `machine check (idle, ${c.trips} trips 1 ms apart): a message to a worker thread and back p50 ${r.p50} / p99 ${r.p99} / max ${r.max} ms; a 1 ms timer late by p99 ${t.p99} / max ${t.max} ms`;
}
