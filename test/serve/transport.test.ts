import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runLoad } from '../../src/load/engine.js';
import { openTarget } from '../../src/load/target.js';
import { loadConfig } from '../../src/serve/config/index.js';
import { VitrineServer } from '../../src/serve/server.js';
import { httpCall, TestClient, type Reply } from '../helpers/client.js';
import { items, type Items, startServerWithCatalog } from '../helpers/server.js';

const shop = inject('fixtureShop');
const bundle = inject('fixtureBundle');

describe('transports: errors, probes and the load engine', () => {
  let server: VitrineServer;
  let client: TestClient;

  beforeAll(async () => {
    ({ server } = await startServerWithCatalog(shop, bundle));
    client = await TestClient.connect(`ws://127.0.0.1:${server.port}/ws`);
  });

  afterAll(async () => {
    await client?.close();
    await server?.shutdown();
  });

  it('answers bad input with coded errors and keeps serving on the same connection', async () => {
    const ok = async (): Promise<void> => {
      expect(items(await client.request({ call: 'recommend', user: 'u1', k: 2 }))).toHaveLength(2);
    };
    const cases: [() => Promise<Reply>, string, string?][] = [
      [() => client.raw(Buffer.from([0xc1, 0xff, 0x00]), true), 'bad_frame'],
      [() => client.raw(Buffer.from([0xc1]), true), 'bad_frame'],
      [() => client.raw('{"id": 1, "call": ', false), 'bad_frame'],
      [() => client.raw(JSON.stringify({ call: 'recommend', user: 'u1' }), false), 'bad_request', 'id'],
      [() => client.raw(JSON.stringify([1, 2, 3]), false), 'bad_request'],
      [() => client.request({ call: 'teleport', user: 'u1' }), 'unknown_call', 'call'],
      [() => client.request({ call: 'recommend', user: 42 }), 'invalid_field', 'user'],
      [() => client.request({ call: 'recommend', user: 'u1', k: 1e9 }), 'invalid_field', 'k'],
      [() => client.request({ call: 'recommend', user: 'u1', k: 'ten' }), 'invalid_field', 'k'],
      [
        () => client.request({ call: 'recommend', user: 'u1', filters: { priceMin: 50, priceMax: 5 } }),
        'invalid_field',
        'filters.priceMin',
      ],
      [
        () => client.request({ call: 'recommend', user: 'u1', filters: { colour: 'red' } }),
        'invalid_field',
        'filters.colour',
      ],
      [() => client.request({ call: 'score', user: 'u1', items: [] }), 'invalid_field', 'items'],
      [() => client.request({ call: 'event', user: 'u1', item: 'i1', type: 'like' }), 'invalid_field', 'type'],
      [
        () => client.raw(JSON.stringify({ id: 'big', call: 'recommend', user: 'u1', pad: 'x'.repeat(200_000) }), false),
        'frame_too_large',
      ],
    ];
    for (const [send, code, field] of cases) {
      const r = await send();
      expect(r.error?.code, JSON.stringify(r)).toBe(code);
      expect(r.error?.message.length).toBeGreaterThan(5);
      if (field) expect(r.error?.field).toBe(field);
      // An error names the bundle version and the server's time like any other reply.
      expect([r.bundle, typeof r.serverMs]).toEqual([server.version, 'number']);
      await ok();
    }
    expect(client.closed).toBe(false);
    // HTTP: the same coded errors with fitting status codes.
    expect((await httpCall(server.port, 'recommend', '{nope')).status).toBe(400);
    const kHttp = await httpCall(server.port, 'recommend', { user: 'u1', k: 1e9 });
    expect([kHttp.status, kHttp.reply.error?.code, kHttp.reply.id, kHttp.reply.bundle]).toEqual([
      400,
      'invalid_field',
      null,
      server.version,
    ]);
    expect((await httpCall(server.port, 'recommend', { id: 'h1', user: 'u1', k: 1 })).reply.id).toBe('h1');
    expect((await httpCall(server.port, 'fly', {})).status).toBe(404);
    const route = await fetch(`http://127.0.0.1:${server.port}/v1/recommend`);
    const routeReply = (await route.json()) as Reply;
    expect([route.status, routeReply.error?.code, routeReply.bundle, typeof routeReply.serverMs]).toEqual([
      404,
      'unknown_call',
      server.version,
      'number',
    ]);
    expect(routeReply.error?.message).toMatch(/no such route: GET \/v1\/recommend/);
    const big = await httpCall(server.port, 'recommend', { user: 'u1', pad: 'x'.repeat(200_000) });
    expect([big.status, big.reply.error?.code, big.reply.bundle]).toEqual([413, 'frame_too_large', server.version]);
    const admin = await fetch(`http://127.0.0.1:${server.port}/admin/reload`, { method: 'POST' });
    expect(admin.status).toBe(401);
    // Refused before validation (a body that is not JSON, one over the limit) and still counted.
    const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    expect(metrics).toMatch(/vitrine_requests_total\{call="recommend",transport="http",outcome="bad_frame"\} 1\n/);
    expect(metrics).toMatch(
      /vitrine_requests_total\{call="recommend",transport="http",outcome="frame_too_large"\} 1\n/,
    );
  });

  it('refuses a port another server holds rather than sharing its traffic', async () => {
    const second = new VitrineServer(
      loadConfig(bundle, undefined, { port: server.port, workers: 1, logLevel: 'silent' }),
    );
    try {
      await expect(second.start()).rejects.toThrow(
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${server.port} \\(the port is in use`),
      );
    } finally {
      await second.shutdown();
    }
    items(await client.request({ call: 'recommend', user: 'u1', k: 3 }));
  });

  it("takes integers msgpack encodes in 64 bits (as Python's msgpack does from 2^32)", async () => {
    const uint64 = (v: bigint): Buffer => {
      const b = Buffer.alloc(9);
      b[0] = 0xcf;
      b.writeBigUInt64BE(v, 1);
      return b;
    };
    const frame = Buffer.concat([
      Buffer.from([0x84]),
      pack('id'),
      uint64(1_700_000_000_000n),
      pack('call'),
      pack('recommend'),
      pack('user'),
      pack('u40'),
      pack('k'),
      uint64(3n),
    ]);
    const reply = await client.raw(frame, true);
    expect(reply.error, JSON.stringify(reply.error)).toBeUndefined();
    expect(reply.id).toBe(1_700_000_000_000);
    expect((reply.result as Items).items).toHaveLength(3);
  });

  it('exposes health, readiness and Prometheus metrics', async () => {
    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${server.port}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, bundle: 'v1' });
    // HEAD, as load balancers probe: the same status, no body.
    for (const path of ['/healthz', '/readyz']) {
      const head = await fetch(`http://127.0.0.1:${server.port}${path}`, { method: 'HEAD' });
      expect([head.status, head.headers.get('content-type'), await head.text()]).toEqual([200, 'application/json', '']);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    expect(metrics).toMatch(/vitrine_requests_total\{call="recommend",transport="ws-msgpack",outcome="ok"\} \d+/);
    expect(metrics).toMatch(/vitrine_request_duration_seconds_bucket\{le="0.005",call="recommend"\}/);
    expect(metrics).toMatch(/vitrine_worker_queue_depth \d+/);
    expect(metrics).toMatch(/vitrine_worker_utilization /);
    // The deadline in force, in seconds (the tests set both deadlines to 60 s; which one applies when
    // is test/serve/pool.test.ts's subject).
    expect(metrics).toMatch(/vitrine_worker_queue_deadline_seconds 60\n/);
    expect(metrics).toMatch(/vitrine_bundle_info\{version="v1"\} 1/);
  });

  it("is measured by the load engine: every scheduled request answered, the server's own time apart", async () => {
    const url = `ws://127.0.0.1:${server.port}/ws`;
    const traffic = {
      next: (seq: number) => ({ call: 'recommend' as const, body: { user: `u${seq % 50}`, k: 5 } }),
    };
    const viaMsgpack = await openTarget({ url, connections: 4, codec: 'msgpack', timeoutMs: 5000 });
    const open = await runLoad(viaMsgpack, { rate: 200, seconds: 1, warmupSeconds: 0, traffic });
    await viaMsgpack.close();
    expect([open.overall.count, open.overall.ok]).toEqual([200, 200]);
    // Each request's server time is part of its client-side latency, so every percentile is too.
    expect(open.overall.server.p50).toBeGreaterThan(0);
    expect(open.overall.server.p50).toBeLessThanOrEqual(open.overall.p50);
    expect(open.overall.server.p99).toBeLessThanOrEqual(open.overall.p99);
    expect(open.sendLateness!.p99).toBeLessThanOrEqual(open.overall.p99);
    const viaJson = await openTarget({ url, connections: 2, codec: 'json', timeoutMs: 5000 });
    const closed = await runLoad(viaJson, { depth: 2, seconds: 0.5, warmupSeconds: 0, traffic });
    await viaJson.close();
    expect(closed.overall.count).toBeGreaterThan(0);
    expect(closed.overall.ok).toBe(closed.overall.count);
    expect(closed.sendLateness).toBeUndefined();
  });
});
