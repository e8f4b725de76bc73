import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/serve/config/index.js';
import { VitrineServer } from '../../src/serve/server.js';
import { createStore } from '../../src/state/open-store.js';
import { TestClient } from '../helpers/client.js';
import { cliPath, tempDir } from '../helpers/paths.js';
import { TestRedis } from '../helpers/redis.js';
import { startTestServer } from '../helpers/server.js';

const bundle = inject('fixtureBundle');
type Items = { items: { id: string }[] };

describe('replicas sharing one Redis', () => {
  let redis: TestRedis;
  const servers: VitrineServer[] = [];

  beforeAll(async () => {
    redis = await TestRedis.start();
    for (let r = 0; r < 2; r++) {
      const s = await startTestServer(bundle, { clock: 'bundle', store: redis.url });
      servers.push(s);
    }
  });
  afterAll(async () => {
    for (const s of servers) await s.shutdown();
    await redis?.stop();
  });

  it("reflect an event sent to one replica in the other's next answer", async () => {
    const [a, b] = await Promise.all(servers.map((s) => TestClient.connect(`ws://127.0.0.1:${s.port}/ws`)));
    try {
      const before = (await b.request({ call: 'recommend', user: 'u12', k: 10 })).result as Items;
      const bought = before.items[0].id;
      expect(
        (await a.request({ call: 'event', user: 'u12', item: bought, type: 'purchase', price: 20 })).result,
      ).toMatchObject({ accepted: true });
      const after = (await b.request({ call: 'recommend', user: 'u12', k: 10 })).result as Items & {
        user: { historyLength: number };
      };
      expect(after.items.map((x) => x.id)).not.toContain(bought);
      // A shopper new to the bundle, known only by what replica A was told, is profiled by B from it.
      await a.request({ call: 'event', user: 'walk-in', item: bought, type: 'view' });
      const walkIn = (await b.request({ call: 'recommend', user: 'walk-in', k: 5 })).result as {
        user: { known: boolean; coldStart: boolean; historyLength: number };
      };
      expect(walkIn.user).toMatchObject({ known: false, coldStart: false, historyLength: 1 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('promotion decisions on replicas sharing one Redis', () => {
  it('converge on the same counts: a purchase on one replica credits a decision the other made', async () => {
    const redis = await TestRedis.start();
    const dir = tempDir();
    const catalogue = `${dir}/promotions.csv`;
    writeFileSync(catalogue, 'id,kind,value\nTEN,percent_off,10\nTWENTY,percent_off,20\n');
    const replicas: VitrineServer[] = [];
    for (let r = 0; r < 2; r++) {
      const s = await startTestServer(bundle, { store: redis.url, promotions: catalogue });
      replicas.push(s);
    }
    const clients = await Promise.all(replicas.map((s) => TestClient.connect(`ws://127.0.0.1:${s.port}/ws`)));
    try {
      const bought = new Map<string, number>();
      for (let j = 0; j < 60; j++) {
        const user = `shopper-${j % 20}`;
        const d = (await clients[j % 2].request({ call: 'promotion', user, history: ['i1', 'i2'] })).result as {
          promotions: { id: string }[];
          segment: { id: number | null };
        };
        // Whoever was shown an offer buys, through the other replica.
        if (d.promotions.length > 0) {
          await clients[(j + 1) % 2].request({ call: 'event', user, item: 'i3', type: 'purchase', price: 40 });
          bought.set(d.promotions[0].id, (bought.get(d.promotions[0].id) ?? 0) + 1);
        }
      }
      const store = createStore({ ...loadConfig(bundle, undefined, {}), store: redis.url });
      await store.open(0);
      const counters = await Promise.all(
        ['0', '1', '2', '3', '4', '5', '6', '7', 'new'].map((s) => store.readCounter(`promotions:${s}`)),
      );
      await store.close();
      const sum = (field: RegExp): number =>
        counters.flatMap((c) => Object.entries(c)).reduce((n, [k, v]) => (field.test(k) ? n + v : n), 0);
      expect(sum(/\|n$/)).toBe(60);
      for (const [arm, n] of bought) expect(sum(new RegExp(`^${arm}\\|c$`))).toBe(n);
      expect(sum(/^none\|c$/)).toBe(0);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      for (const s of replicas) await s.shutdown();
      await redis.stop();
    }
  });
});

describe('the embedded store', () => {
  it('is held by one server: a second on the same event log exits 2 naming the first', async () => {
    const log = `${tempDir()}/events.jsonl`;
    const first = await startTestServer(bundle, { eventLog: log });
    try {
      const second = spawnSync(
        process.execPath,
        [cliPath, 'serve', '--bundle', bundle, '--port', '0', '--event-log', log, '--workers', '1'],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(second.status).toBe(2);
      expect(second.stderr).toMatch(
        new RegExp(
          `--event-log ${log} is held by process ${process.pid} on \\S+ \\(since [^)]+\\): one server writes an event log; run several replicas with --store redis://`,
        ),
      );
    } finally {
      await first.shutdown();
    }
    // Released at shutdown: the next server takes it.
    const next = await startTestServer(bundle, { eventLog: log });
    await next.shutdown();
  });
});
