import { describe, expect, inject, it } from 'vitest';
import { resolveBundleVersion } from '../../src/bundle/read.js';
import { DEFAULT_FILTERS } from '../../src/protocol/calls.js';
import { ModelPool } from '../../src/serve/pool.js';

const bundle = inject('fixtureBundle');

describe('the worker pool', () => {
  it('refuses a request once closed, rather than starting a worker nothing would stop', async () => {
    const pool = await ModelPool.start(resolveBundleVersion(bundle), {
      workers: 1,
      maxQueue: 16,
      queueDeadlineMs: 60_000,
      concurrentTasksPerWorker: 1,
      maxBatch: 4,
      provider: 'cpu',
    });
    const task = {
      call: {
        call: 'recommend' as const,
        user: 'u1',
        k: 3,
        filters: { ...DEFAULT_FILTERS },
        diversity: 0,
        explain: false,
        ranking: 'ranker' as const,
      },
      now: Date.now() / 1000,
    };
    expect('result' in (await pool.run(task)).outcome).toBe(true);
    await pool.close();
    expect(pool.threads).toBe(0);
    await expect(pool.run(task)).rejects.toMatchObject({ code: 'unavailable' });
    expect(pool.threads).toBe(0);
  });
});
