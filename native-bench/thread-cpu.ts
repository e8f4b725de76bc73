import { readdirSync, readFileSync } from 'node:fs';

/**
 * How busy the cores were during a benchmark phase: the server's threads (its main thread apart
 * from the rest: workers, native pools) and this process, the load generator, which shares the
 * machine. A latency percentile measured at "half the maximum rate" means little without it: on a
 * two-core machine the open loop's unbatched requests can cost the server far more CPU each than
 * the closed loop's batched ones, and the time threads spend runnable but waiting for a core is
 * where a tail comes from. Linux only (/proc); elsewhere the figures are absent.
 */
export interface ThreadCpu {
  /** Cores' worth of CPU each used over the phase (1 = one core busy throughout). */
  serverCores: number;
  mainThreadCores: number;
  loadGeneratorCores: number;
  /** Cores' worth of time the server's threads were runnable but not running (schedstat). */
  serverWaitCores: number;
  /** The server's CPU time per request answered, ms. */
  serverMsPerRequest: number;
}

interface Snapshot {
  at: number;
  /** Per thread id: CPU ns, runnable-but-waiting ns (from /proc/PID/task/TID/schedstat). */
  threads: Map<number, { run: number; wait: number }>;
  self: NodeJS.CpuUsage;
}

function snapshot(pid: number): Snapshot | undefined {
  const threads = new Map<number, { run: number; wait: number }>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      // A thread that ended between the listing and the read is left out.
      try {
        const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
        threads.set(Number(tid), { run, wait });
      } catch {}
    }
  } catch {
    return undefined;
  }
  return { at: performance.now(), threads, self: process.cpuUsage() };
}

/** Runs `during` and reports the CPU the server process `pid` and this process used meanwhile. */
export async function threadCpu<T>(
  pid: number | undefined,
  during: () => Promise<T>,
  requests: (value: T) => number,
): Promise<{ value: T; cpu?: ThreadCpu }> {
  const before = pid === undefined ? undefined : snapshot(pid);
  const value = await during();
  const after = pid === undefined ? undefined : snapshot(pid);
  if (!before || !after) return { value };
  const ns = (after.at - before.at) * 1e6;
  let run = 0;
  let wait = 0;
  let main = 0;
  for (const [tid, a] of after.threads) {
    const b = before.threads.get(tid) ?? { run: 0, wait: 0 };
    run += a.run - b.run;
    wait += a.wait - b.wait;
    if (tid === pid) main = a.run - b.run;
  }
  const self = process.cpuUsage(before.self);
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    value,
    cpu: {
      serverCores: round(run / ns),
      mainThreadCores: round(main / ns),
      loadGeneratorCores: round(((self.user + self.system) * 1e3) / ns),
      serverWaitCores: round(wait / ns),
      serverMsPerRequest: round(run / 1e6 / Math.max(1, requests(value))),
    },
  };
}

export function describeThreadCpu(c: ThreadCpu): string {
  return `server ${c.serverCores} cores (main thread ${c.mainThreadCores}; ${c.serverMsPerRequest} ms a request), its threads waiting for a core ${c.serverWaitCores}; load generator ${c.loadGeneratorCores}`;
}
