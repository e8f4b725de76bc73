import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/serve/config/index.js';
import { VitrineServer } from '../../src/serve/server.js';
import { httpCall, TestClient } from '../helpers/client.js';

const bundle = inject('fixtureBundle');

/** Sends raw bytes and returns what comes back before the server closes or goes quiet for 1 s. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let got = '';
    const done = (): void => {
      socket.destroy();
      resolve(got);
    };
    const quiet = setTimeout(done, 1000);
    socket.on('data', (d) => {
      got += d.toString();
      if (/\r\n\r\n/.test(got) && /content-length: (\d+)/i.test(got)) {
        const [head, body] = got.split('\r\n\r\n');
        if (body.length >= Number(/content-length: (\d+)/i.exec(head)![1])) {
          clearTimeout(quiet);
          done();
        }
      }
    });
    socket.on('close', () => {
      clearTimeout(quiet);
      resolve(got);
    });
  });
}

describe('HTTP as proxies, load balancers and browsers speak it', () => {
  let server: VitrineServer;
  const base = (): string => `http://127.0.0.1:${server.port}`;

  beforeAll(async () => {
    const config = {
      port: 0,
      probePort: 0,
      workers: 1,
      logLevel: 'silent',
      clock: 'bundle' as const,
      clientToken: 'Tok3n',
      corsOrigins: ['https://shop.example'],
    };
    server = new VitrineServer(loadConfig(bundle, undefined, config));
    await server.start();
  });
  afterAll(() => server?.shutdown());

  it("answers HTTP/1.0 and Host-less probes on the probe port (HAProxy's default check)", async () => {
    const port = server.probePort!;
    expect(await raw(port, 'GET /healthz HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.[01] 200 OK[^]*\{"status":"ok"\}$/);
    expect(await raw(port, 'OPTIONS / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.[01] 200 OK/);
    expect(await raw(port, 'GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 (200|400)/);
    expect(await raw(port, 'GET /readyz HTTP/1.0\r\n\r\n')).toMatch(/"ready":true,"bundle":"v1"/);
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(/vitrine_requests_total/);
    // The main port is uWS's: it speaks HTTP/1.1 with a Host header only (the probe port is for the rest).
    expect(await raw(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK/);
  });

  it('refuses a request whose length two Content-Length headers disagree on, closing the connection', async () => {
    const body = '{"user":"u1","k":2}';
    const reply = await raw(
      server.port,
      `POST /v1/recommend HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer Tok3n\r\nContent-Length: 5\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(reply).toMatch(/"code":"bad_request","message":"the request has more than one Content-Length header"/);
  });

  it('takes the bearer scheme in any case, and refuses a wrong token', async () => {
    const body = { user: 'u1', k: 2 };
    expect((await httpCall(server.port, 'recommend', body, { authorization: 'bearer Tok3n' })).status).toBe(200);
    expect((await httpCall(server.port, 'recommend', body, { authorization: 'BEARER Tok3n' })).status).toBe(200);
    expect((await httpCall(server.port, 'recommend', body, { authorization: 'Bearer tok3n' })).status).toBe(401);
    expect((await httpCall(server.port, 'recommend', body, { authorization: 'Tok3n' })).status).toBe(401);
  });

  it('lets pages on configured origins call the HTTP API, and no others', async () => {
    const preflight = (origin: string) =>
      fetch(`${base()}/v1/recommend`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
    const allowed = await preflight('https://shop.example');
    expect(allowed.status).toBe(204);
    expect([
      allowed.headers.get('access-control-allow-origin'),
      allowed.headers.get('access-control-allow-headers'),
    ]).toEqual(['https://shop.example', 'authorization, content-type']);
    const other = await preflight('https://evil.example');
    expect([other.status, other.headers.get('access-control-allow-origin')]).toEqual([204, null]);
    const call = await fetch(`${base()}/v1/recommend`, {
      method: 'POST',
      body: '{"user":"u1","k":2}',
      headers: { origin: 'https://shop.example', authorization: 'Bearer Tok3n' },
    });
    expect([call.status, call.headers.get('access-control-allow-origin')]).toEqual([200, 'https://shop.example']);
  });

  it('counts refused upgrades and a bad field under its call, and names process metrics once', async () => {
    await expect(TestClient.connect(`ws://127.0.0.1:${server.port}/ws`)).rejects.toThrow(/401/);
    await expect(TestClient.connect(`ws://127.0.0.1:${server.port}/ws?token=nope`)).rejects.toThrow(/401/);
    expect(
      (await httpCall(server.port, 'recommend', { user: 'u1', k: 0 }, { authorization: 'Bearer Tok3n' })).status,
    ).toBe(400);
    const metrics = await (await fetch(`${base()}/metrics`)).text();
    expect(metrics).toMatch(/vitrine_connections_refused_total\{reason="unauthorized"\} 2\n/);
    expect(metrics).toMatch(/vitrine_requests_total\{call="recommend",transport="http",outcome="invalid_field"\} 1\n/);
    expect(metrics).toMatch(/^vitrine_process_cpu_seconds_total \d/m);
    expect(metrics).toMatch(/^vitrine_nodejs_heap_size_used_bytes \d/m);
    expect(metrics).not.toMatch(/process_process/);
  });
});
