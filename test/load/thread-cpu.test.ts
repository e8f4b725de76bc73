import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { threadCpu } from '../../native-bench/thread-cpu.js';

// A process whose main thread spins for 600 ms while a second thread of it sleeps.
const SPINNER = `
const { Worker } = require('node:worker_threads');
const idle = new Worker('setTimeout(() => {}, 2000)', { eval: true });
const end = Date.now() + 600;
while (Date.now() < end);
setTimeout(() => {}, 5000);
`;

describe.runIf(process.platform === 'linux')("the serving benchmark's CPU accounting", () => {
  it('reports the cores a phase used, the main thread apart, and CPU per request', async () => {
    const child = spawn(process.execPath, ['-e', SPINNER], {
      stdio: 'ignore',
    });
    await once(child, 'spawn');
    try {
      // Measured while the main thread spins: from 100 to 500 ms after the start.
      await new Promise((r) => setTimeout(r, 100));
      const { cpu } = await threadCpu(
        child.pid,
        () => new Promise<number>((r) => setTimeout(() => r(200), 400)),
        (n) => n,
      );
      expect(cpu).toBeDefined();
      const c = cpu!;
      // A spinning thread gets most of a core even on a busy two-core machine (measured 0.99-1.0 alone;
      // the whole process 1.13-1.14, with its worker starting and V8's helper threads).
      expect(c.mainThreadCores).toBeGreaterThan(0.3);
      expect(c.mainThreadCores).toBeLessThanOrEqual(c.serverCores);
      expect(c.serverCores).toBeLessThan(1.5);
      expect(c.serverMsPerRequest).toBeCloseTo((c.serverCores * 400) / 200, 0);
      // This process only waited on a timer.
      expect(c.loadGeneratorCores).toBeLessThan(0.2);
    } finally {
      child.kill();
    }
  });

  it('reports nothing for a process it cannot read', async () => {
    const { value, cpu } = await threadCpu(
      2 ** 22 + 7,
      async () => 'done',
      () => 1,
    );
    expect(value).toBe('done');
    expect(cpu).toBeUndefined();
  });
});
