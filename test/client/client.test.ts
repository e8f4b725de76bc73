import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { CallError, VitrineClient, VitrineHttpClient } from '../../src/client/index.js';
import { VitrineServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers/paths.js';
import { freePort } from '../helpers/redis.js';
import { startTestServer } from '../helpers/server.js';

const bundle = inject('fixtureBundle');
const catalogue = join(tempDir(), 'promotions.csv');
writeFileSync(catalogue, 'id,kind,value\nTEN,percent_off,10\n');

async function server(port: number): Promise<VitrineServer> {
  const s = await startTestServer(bundle, { port, clock: 'bundle', promotions: catalogue });
  return s;
}

describe('the typed client against the server', () => {
  let s: VitrineServer;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    s = await server(port);
  });
  afterAll(() => s?.shutdown());

  it.each(['msgpack', 'json'] as const)(
    'makes every call over WebSocket (%s), typed as the server answers',
    async (codec) => {
      const c = await VitrineClient.connect(`ws://127.0.0.1:${port}/ws`, { codec });
      try {
        const rec = await c.recommend({ user: 'u1', k: 3, filters: { priceMax: 100 } });
        expect(rec.items).toHaveLength(3);
        const item = rec.items[0].id;
        expect((await c.similar({ item, k: 2 })).items).toHaveLength(2);
        expect((await c.boughtTogether({ items: [item], k: 2 })).items.length).toBeGreaterThan(0);
        expect((await c.score({ user: 'u1', items: [item] })).items[0].id).toBe(item);
        expect((await c.profile({ user: 'u1' })).segment.label.length).toBeGreaterThan(0);
        expect(await c.event({ user: 'u1', item, type: 'view' })).toMatchObject({ accepted: true });
        const promo = await c.promotion({ user: 'u1' });
        expect(promo.decision).toMatch(/^d/);
        expect(await c.event({ user: 'u1', type: 'promotion_view', decision: promo.decision })).toEqual({
          accepted: true,
          credited: false,
        });
        // Many in flight on one connection, matched by id.
        const many = await Promise.all(Array.from({ length: 50 }, (_, j) => c.call('profile', { user: `u${j + 1}` })));
        expect(many.every((a) => a.bundle === 'v1' && a.serverMs > 0)).toBe(true);
        const bad = await c.recommend({ user: 'u1', k: 0 }).catch((e: unknown) => e);
        expect(bad).toBeInstanceOf(CallError);
        expect(bad).toMatchObject({ code: 'invalid_field', field: 'k' });
      } finally {
        await c.close();
      }
    },
  );

  it('makes the same calls over HTTP', async () => {
    const h = new VitrineHttpClient(`http://127.0.0.1:${port}/`);
    const a = await h.call('recommend', { history: ['i3'], k: 2 });
    expect(a.result.items).toHaveLength(2);
    await expect(h.call('similar', { item: 'no-such-item', k: 2 })).resolves.toBeDefined();
    await expect(h.call('recommend', { k: 2 })).rejects.toMatchObject({ code: 'invalid_field', field: 'user' });
    const down = new VitrineHttpClient(`http://127.0.0.1:${await freePort()}`);
    await expect(down.call('profile', { user: 'u1' })).rejects.toMatchObject({ code: 'not_connected' });
  });

  it('reconnects by itself when the server comes back, failing only what was in flight', async () => {
    const c = await VitrineClient.connect(`ws://127.0.0.1:${port}/ws`, { maxBackoffMs: 200 });
    try {
      expect((await c.profile({ user: 'u2' })).user.known).toBe(true);
      await s.shutdown();
      expect(c.connected).toBe(false);
      const during = await c.call('profile', { user: 'u2' }, { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(during).toMatchObject({ code: 'not_connected' });
      s = await server(port);
      // A call made while it reconnects waits for the connection, within its timeout.
      expect((await c.call('profile', { user: 'u2' }, { timeoutMs: 5000 })).result.user.known).toBe(true);
      expect(c.connected).toBe(true);
    } finally {
      await c.close();
    }
  });
});

describe('the client on its own', () => {
  it('times a call out when no reply comes, and fails what is in flight when the connection drops', async () => {
    const port = await freePort();
    const silent = new WebSocketServer({ port, host: '127.0.0.1' });
    try {
      const c = await VitrineClient.connect(`ws://127.0.0.1:${port}`, { timeoutMs: 150, reconnect: false });
      const t0 = performance.now();
      await expect(c.profile({ user: 'u1' })).rejects.toMatchObject({ code: 'client_timeout' });
      expect(performance.now() - t0).toBeLessThan(1000);
      const pending = c.call('profile', { user: 'u1' }, { timeoutMs: 5000 });
      for (const ws of silent.clients) ws.terminate();
      await expect(pending).rejects.toMatchObject({ code: 'connection_closed' });
      await c.close();
    } finally {
      silent.close();
    }
    await expect(VitrineClient.connect(`ws://127.0.0.1:${port}`)).rejects.toMatchObject({ code: 'not_connected' });
  });
});
