import { createHmac } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/serve/config/index.js';
import { VitrineServer } from '../../src/serve/server.js';
import { httpCall, TestClient, type Reply } from '../helpers/client.js';

const bundle = inject('fixtureBundle');

describe('client token, per-connection cap and pseudonymised logs', () => {
  it('refuses clients without the token, caps requests in flight per connection, and never logs a raw user id', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const server = new VitrineServer(
      loadConfig(bundle, undefined, {
        port: 0,
        workers: 1,
        logLevel: 'debug',
        clock: 'bundle',
        clientToken: 'tok',
        maxInFlightPerConnection: 2,
        pseudonymKey: 'support-key',
      }),
      log,
    );
    await server.start();
    const url = `ws://127.0.0.1:${server.port}/ws`;
    try {
      await expect(TestClient.connect(url)).rejects.toThrow(/401/);
      await expect(TestClient.connect(`${url}?token=nope`)).rejects.toThrow(/401/);
      expect((await httpCall(server.port, 'recommend', { user: 'u1', k: 2 })).status).toBe(401);
      expect(await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text()).toMatch(
        /vitrine_requests_total\{call="recommend",transport="http",outcome="unauthorized"\} 1\n/,
      );
      expect(
        (await httpCall(server.port, 'recommend', { user: 'u1', k: 2 }, { authorization: 'Bearer tok' })).status,
      ).toBe(200);
      const viaHeader = await TestClient.connect(url, { authorization: 'Bearer tok' });
      await viaHeader.close();

      const client = await TestClient.connect(`${url}?token=tok`);
      // Twelve at once on one connection: two are taken, the rest are refused with a coded error
      // (their ids echoed), and the connection keeps serving.
      const burst = await Promise.all(
        Array.from({ length: 12 }, (_, j) =>
          client.request({ id: `b${j}`, call: 'recommend', user: `u${j + 1}`, k: 3 }),
        ),
      );
      const codes = burst.map((r) => r.error?.code ?? 'ok');
      expect(codes.filter((c) => c === 'ok').length).toBeGreaterThanOrEqual(2);
      expect(codes.filter((c) => c === 'too_many_in_flight').length).toBeGreaterThanOrEqual(1);
      expect(codes.every((c) => c === 'ok' || c === 'too_many_in_flight')).toBe(true);
      expect(burst.map((r) => r.id)).toEqual(Array.from({ length: 12 }, (_, j) => `b${j}`));
      expect((await client.request({ call: 'recommend', user: 'u1', k: 3 })).error).toBeUndefined();
      // Counted under the call they asked for.
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(metrics).toMatch(
        /vitrine_requests_total\{call="recommend",transport="ws-msgpack",outcome="too_many_in_flight"\} [1-9]/,
      );

      const shopper = 'alice@example.com';
      expect((await client.request({ call: 'event', user: shopper, item: 'i5', type: 'view' })).error).toBeUndefined();
      await client.close();
      const logged = lines.join('');
      expect(logged).not.toContain(shopper);
      // The keyed hash a support engineer holding the key can recompute.
      expect(logged).toContain(`p_${createHmac('sha256', 'support-key').update(shopper).digest('hex').slice(0, 16)}`);
    } finally {
      await server.shutdown();
    }
  });
});

describe('a client that does not read its replies', () => {
  it('is refused more requests once its unread replies pile up, and none is left hanging', async () => {
    const server = new VitrineServer(
      loadConfig(bundle, undefined, { port: 0, workers: 1, logLevel: 'silent', clock: 'bundle' }),
    );
    await server.start();
    try {
      const client = await TestClient.connect(`ws://127.0.0.1:${server.port}/ws`);
      // `ws` has no public way to stop reading: pausing its socket is what a slow reader looks like.
      const socket = (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      socket.pause();
      const pending: Promise<Reply>[] = [];
      for (let j = 0; j < 1500; j++) {
        pending.push(
          client.request(
            {
              id: j,
              call: 'recommend',
              user: `u${(j % 700) + 1}`,
              k: 200,
              filters: { excludeSeen: false, availableOnly: false },
            },
            'json',
          ),
        );
        if (j % 50 === 49) await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 1000));
      socket.resume();
      // Before the fix uWS dropped replies past its buffer on a connection that stayed open: the
      // requests behind them were never answered, and this waited until the test timed out.
      const replies = await Promise.race([
        Promise.all(pending),
        new Promise<'lost'>((r) => setTimeout(() => r('lost'), 30_000)),
      ]);
      expect(replies).not.toBe('lost');
      const codes = (replies as Reply[]).map((r) => r.error?.code ?? 'ok');
      expect(codes.filter((c) => c === 'ok').length).toBeGreaterThan(100);
      expect(codes.filter((c) => c === 'too_many_in_flight').length).toBeGreaterThan(100);
      // The unread replies are what refused it; on a slow machine the per-connection in-flight cap
      // (256) may refuse the first few before the replies pile up.
      const reasons = (replies as Reply[]).map((r) => r.error?.message ?? '');
      expect(reasons.some((m) => /bytes of replies on this connection are not read yet/.test(m))).toBe(true);
      // It kept sending into refusals: past 500 in a row the server closed it (1013), and every request
      // it had sent was either answered or failed with the connection, none left hanging.
      const closedOn = codes.findIndex((c) => c === 'internal');
      if (closedOn >= 0) {
        expect(client.closed).toBe(true);
        expect(codes.slice(closedOn).every((c) => c === 'internal')).toBe(true);
        expect(await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text()).toMatch(
          /vitrine_connections_closed_total\{reason="refusals_in_a_row"\} 1\n/,
        );
      } else expect(codes.every((c) => c === 'ok' || c === 'too_many_in_flight')).toBe(true);
      const again = await TestClient.connect(`ws://127.0.0.1:${server.port}/ws`);
      expect((await again.request({ call: 'recommend', user: 'u1', k: 3 })).error).toBeUndefined();
      await again.close();
      await client.close();
    } finally {
      await server.shutdown();
    }
  });
});
