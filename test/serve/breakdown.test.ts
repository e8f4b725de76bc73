import { describe, expect, inject, it } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { startTestServer } from '../helpers/server.js';

const bundle = inject('fixtureBundle');

/** Count and sum (seconds) of one stage's histogram in a /metrics text. */
function stage(metrics: string, call: string, name: string): { count: number; sum: number } {
  const get = (what: string): number =>
    Number(
      new RegExp(`vitrine_request_stage_seconds_${what}\\{call="${call}",stage="${name}"\\} ([0-9.e+-]+)`).exec(
        metrics,
      )?.[1] ?? Number.NaN,
    );
  return { count: get('count'), sum: get('sum') };
}

describe('the latency breakdown in /metrics', () => {
  it("splits every served request's time into its stages, which add up to no more than the server's own time", async () => {
    const server = await startTestServer(bundle, { maxBatch: 8, clock: 'bundle' });
    try {
      const client = await TestClient.connect(`ws://127.0.0.1:${server.port}/ws`);
      // Bursts, so that batches form and the wait behind a batch's other requests is measured.
      let serverMs = 0;
      for (let b = 0; b < 5; b++) {
        const replies = await Promise.all(
          Array.from({ length: 20 }, (_, j) => client.request({ call: 'recommend', user: `u${j + 1}`, k: 10 })),
        );
        for (const r of replies) {
          expect(r.error).toBeUndefined();
          serverMs += r.serverMs ?? 0;
        }
      }
      await client.request({ call: 'similar', item: 'i1', k: 3 });
      const m = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      const names = ['queue', 'handoff', 'wait', 'retrieve', 'features', 'ranker', 'finish', 'rest', 'back', 'reply'];
      // A request that found every worker idle may have been served by the main thread itself,
      // which has no hand-off and no way back: at most the first of each burst and the lone similar.
      const inline = Number(/vitrine_inline_requests_total (\d+)/.exec(m)?.[1]);
      expect(inline).toBeLessThanOrEqual(6);
      let total = 0;
      for (const name of names) {
        const s = stage(m, 'recommend', name);
        // Retrieval and ranking are skipped for a shopper with no history (trending items instead).
        if (['retrieve', 'features', 'ranker'].includes(name)) expect(s.count, name).toBeGreaterThan(50);
        else if (['handoff', 'back'].includes(name))
          expect(s.count + (stage(m, 'similar', name).count || 0), name).toBe(101 - inline);
        else expect(s.count, name).toBe(100);
        expect(s.sum, name).toBeGreaterThanOrEqual(0);
        total += s.sum;
      }
      // The stages are disjoint parts of the time the server reports in each reply: measured, they
      // cover 96–97% of it (the rest is validation and encoding); the floor leaves room for a busy machine.
      expect(total * 1000).toBeLessThanOrEqual(serverMs * 1.01);
      expect(total * 1000).toBeGreaterThan(serverMs * 0.5);
      // Requests that came together waited behind each other's work in their batch.
      expect(stage(m, 'recommend', 'wait').sum + stage(m, 'recommend', 'rest').sum).toBeGreaterThan(0);
      // Calls without the recommend pipeline have the stages around it only.
      expect(stage(m, 'similar', 'finish').count).toBe(1);
      expect(Number.isNaN(stage(m, 'similar', 'ranker').count)).toBe(true);
      await client.close();
    } finally {
      await server.shutdown();
    }
  });

  it('counts the requests a quiet server served on its main thread, which have no hand-off', async () => {
    const server = await startTestServer(bundle, { clock: 'bundle' });
    try {
      const client = await TestClient.connect(`ws://127.0.0.1:${server.port}/ws`);
      const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      const inline = (m: string): number => Number(/vitrine_inline_requests_total (\d+)/.exec(m)?.[1]);
      // The main thread's model loads after the server has started; one request every 25 ms (40/s,
      // under the default 100/s) until it serves one.
      const began = Date.now();
      while (inline(await scrape()) === 0 && Date.now() - began < 20_000) {
        expect((await client.request({ call: 'recommend', user: 'u1', k: 5 })).error).toBeUndefined();
        await new Promise((r) => setTimeout(r, 25));
      }
      const before = await scrape();
      for (let j = 0; j < 10; j++) {
        expect((await client.request({ call: 'recommend', user: `u${j + 2}`, k: 5 })).error).toBeUndefined();
        await new Promise((r) => setTimeout(r, 25));
      }
      const after = await scrape();
      expect(inline(after) - inline(before)).toBe(10);
      const d = (name: string): number =>
        stage(after, 'recommend', name).count - stage(before, 'recommend', name).count;
      expect(d('queue')).toBe(10);
      expect(d('handoff')).toBe(0);
      expect(d('back')).toBe(0);
      await client.close();
    } finally {
      await server.shutdown();
    }
  });
});
