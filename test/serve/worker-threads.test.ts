import { describe, expect, it } from 'vitest';
import { WorkerThreads } from '../../src/serve/worker-threads.js';

interface Task {
  value: number;
  delayMs?: number;
  exit?: boolean;
  fail?: boolean;
  /** Answer with when the worker's thread started and when it was ready (epoch ms). */
  loading?: boolean;
}
interface Reply {
  value: number;
  thread: number;
  loading?: [number, number];
}

const file = new URL('../fixtures/serving-worker.mjs', import.meta.url);
const start = (count: number, errors: unknown[] = [], data: object = {}) =>
  WorkerThreads.start<Task, Reply>(file, data, count, (e) => errors.push(e));

describe('the serving worker threads', () => {
  it('spreads tasks over the least busy workers and answers each with its own reply', async () => {
    const { threads, provider } = await start(2);
    try {
      expect(provider).toBe('test');
      const replies = await Promise.all([1, 2, 3, 4].map((value) => threads.run({ value, delayMs: 50 })));
      expect(replies.map((r) => r.value)).toEqual([1, 2, 3, 4]);
      // Four at once over two workers: two each, never all on one.
      const perThread = new Map<number, number>();
      for (const r of replies) perThread.set(r.thread, (perThread.get(r.thread) ?? 0) + 1);
      expect([...perThread.values()]).toEqual([2, 2]);
      expect(threads.utilization).toBeGreaterThan(0);
      await expect(threads.run({ value: 5, fail: true })).rejects.toThrow('task 5 failed');
    } finally {
      await threads.destroy();
    }
  });

  it('fails its tasks when a worker dies, reports it, and replaces the worker', async () => {
    const errors: unknown[] = [];
    const { threads } = await start(1, errors);
    try {
      const slow = threads.run({ value: 1, delayMs: 500 });
      await expect(threads.run({ value: 2, exit: true })).rejects.toThrow('a serving worker exited (code 3)');
      await expect(slow).rejects.toThrow('exited');
      expect(errors).toHaveLength(1);
      // Until the replacement is ready, a task is refused as retryable, not queued into nothing.
      await expect(threads.run({ value: 3 })).rejects.toMatchObject({ code: 'unavailable' });
      await expect.poll(() => threads.run({ value: 4 }).then((r) => r.value), { timeout: 10_000 }).toBe(4);
      expect(threads.size).toBe(1);
    } finally {
      await threads.destroy();
    }
  });

  it('starts its workers one after another when asked (a reload beside traffic), all at once otherwise', async () => {
    // Each worker takes 300 ms to load; the load intervals, earliest first.
    const loadings = async (oneAtATime: boolean): Promise<[number, number][]> => {
      const { threads } = await WorkerThreads.start<Task, Reply>(file, { loadMs: 300 }, 2, () => {}, oneAtATime);
      try {
        // Two at once go to different workers (the least busy first).
        const replies = await Promise.all([1, 2].map((value) => threads.run({ value, loading: true })));
        expect(new Set(replies.map((r) => r.thread)).size).toBe(2);
        return replies.map((r) => r.loading!).sort((a, b) => a[0] - b[0]);
      } finally {
        await threads.destroy();
      }
    };
    const [first, second] = await loadings(true);
    expect(second[0]).toBeGreaterThanOrEqual(first[1]);
    const [a, b] = await loadings(false);
    expect(b[0]).toBeLessThan(a[1]);
  });

  it('rejects the start with the error of a worker that cannot load', async () => {
    await expect(start(2, [], { failToStart: true })).rejects.toThrow('this model cannot be loaded');
  });

  it('closes after the tasks already handed out, and refuses new ones', async () => {
    const { threads } = await start(1);
    const running = threads.run({ value: 7, delayMs: 200 });
    const closed = threads.close();
    await expect(threads.run({ value: 8 })).rejects.toMatchObject({ code: 'unavailable' });
    await expect(running).resolves.toMatchObject({ value: 7 });
    await closed;
    expect(threads.size).toBe(0);
  });
});
