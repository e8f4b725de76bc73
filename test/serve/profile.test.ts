import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { readBundle } from '../../src/bundle/read.js';
import { rankContext } from '../../src/rank/context.js';
import { instantiate } from '../../src/rank/model.js';
import { profileCall } from '../../src/serve/calls/profile.js';
import { loadConfig } from '../../src/serve/config/index.js';
import { VitrineServer } from '../../src/serve/server.js';
import { type Reply, TestClient } from '../helpers/client.js';
import { cliPath, tempDir } from '../helpers/paths.js';

const bundle = inject('fixtureBundle');

describe('profile', () => {
  it("covers the shopper's own categories, not only the ones most common overall", async () => {
    const data = readBundle(bundle);
    // A category the bundle never saw (so not among the segment model's dimensions), through a newer catalogue.
    const toys = Array.from({ length: 6 }, (_, j) => ({
      id: `toy${j}`,
      category: 'Toys',
      attributes: [],
      available: true,
    }));
    const model = await instantiate(data, { catalog: toys });
    expect(data.segments.spec.affinityNames).not.toContain('Toys');
    const history = ['toy0', 'toy1', 'toy2', 'toy3', 'toy4', 'toy5', 'i1', 'i2', 'i3', 'i4', 'i5'];
    const r = profileCall(
      rankContext(model),
      { call: 'profile', history: history.map((item) => ({ item })) },
      { call: { call: 'profile' }, now: 0 },
    );
    expect(r.affinities.top[0]).toEqual({ name: 'Toys', share: Number((6 / 11).toFixed(6)) });
    await model.ranker.release();
  });

  it('puts every shopper in the segment batch-score --segments gives them, on a server keeping wall-clock time', async () => {
    const out = join(tempDir(), 'segments.jsonl');
    const batch = spawnSync(
      process.execPath,
      [cliPath, 'batch-score', '--bundle', bundle, '--all', '--k', '1', '--segments', '--out', out],
      { encoding: 'utf8', env: { ...process.env, VITRINE_PROGRESS: '0' } },
    );
    expect(batch.status, batch.stderr).toBe(0);
    const offline = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { user: string; segment: { id: number; label: string } | null });
    const server = new VitrineServer(
      loadConfig(bundle, undefined, { port: 0, workers: 1, logLevel: 'silent', clock: 'wall' }),
    );
    await server.start();
    const client = await TestClient.connect(`ws://127.0.0.1:${server.port}/ws`);
    try {
      const online: Reply[] = [];
      // In chunks: a connection holds at most 256 requests in flight.
      for (let j = 0; j < offline.length; j += 200) {
        online.push(
          ...(await Promise.all(
            offline.slice(j, j + 200).map((o) => client.request({ call: 'profile', user: o.user }, 'json')),
          )),
        );
      }
      let compared = 0;
      offline.forEach((o, j) => {
        const seg = (online[j].result as { segment: { id: number | null; label: string } }).segment;
        if (o.segment === null) expect(seg.id).toBeNull();
        else {
          expect(seg, o.user).toEqual(o.segment);
          compared++;
        }
      });
      expect(compared).toBeGreaterThan(500);
    } finally {
      await client.close();
      await server.shutdown();
    }
  });
});
