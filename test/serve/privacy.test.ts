import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readBundle } from '../../src/bundle/read.js';
import { VitrineServer } from '../../src/serve/server.js';
import { cliPath, tempDir } from '../helpers/paths.js';
import { TestRedis } from '../helpers/redis.js';
import { spawnSync } from 'node:child_process';
import { startTestServer } from '../helpers/server.js';

const bundle = inject('fixtureBundle');
const shop = inject('fixtureShop');
const admin = { authorization: 'Bearer adm' };

async function call(
  port: number,
  path: string,
  body?: unknown,
): Promise<{ status: number; result: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: admin,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const reply = (await r.json()) as { result?: Record<string, unknown>; error?: unknown };
  return { status: r.status, result: reply.result ?? { error: reply.error } };
}

describe.each(['embedded', 'redis'] as const)('export and forget (%s store)', (backend) => {
  let redis: TestRedis | undefined;
  let server: VitrineServer;
  const dir = tempDir();
  const log = join(dir, 'events.jsonl');
  // A shopper the bundle learned from; streamed events come on top.
  const b = readBundle(bundle);
  const h = b.history.ui;
  const user = b.userIds.find((_, u) => h.indptr[u + 1] - h.indptr[u] > 3)!;

  beforeAll(async () => {
    if (backend === 'redis') redis = await TestRedis.start();
    const store = backend === 'redis' ? { store: redis!.url } : { eventLog: log };
    server = await startTestServer(bundle, { clock: 'bundle', adminToken: 'adm', ...store });
  });
  afterAll(async () => {
    await server?.shutdown();
    await redis?.stop();
  });

  it('exports all it holds about a shopper, then forgets it: store, files and the next reply know nothing', async () => {
    for (const item of ['i1', 'i2'])
      await fetch(`http://127.0.0.1:${server.port}/v1/event`, {
        method: 'POST',
        body: JSON.stringify({ user, item, type: 'view' }),
      });
    // A damaged line about the shopper that the log kept aside earlier.
    if (backend === 'embedded')
      appendFileSync(`${log}.rejected`, `{"user":"${user}","item":"i9","ty\n{"user":"someone-else","it\n`);

    const exported = await call(server.port, '/admin/export', { user });
    expect(exported.status).toBe(200);
    const e = exported.result as {
      streamed: { item: string }[];
      bundle: { known: boolean; usedForServing: boolean; history: unknown[] };
      profile: { segment: { id: number } } | null;
      forgotten: boolean;
    };
    expect(e.streamed.map((x) => x.item)).toEqual(['i1', 'i2']);
    expect(e.bundle).toMatchObject({ known: true, usedForServing: true });
    expect(e.bundle.history.length).toBeGreaterThan(0);
    expect(e.profile?.segment.id).toEqual(expect.any(Number));

    const forgot = await call(server.port, '/admin/forget', { user });
    expect(forgot.result).toMatchObject({ forgotten: true, removed: { events: 2, records: 0 } });

    // The next reply: a new shopper, whatever the bundle holds about them.
    const rec = (await (
      await fetch(`http://127.0.0.1:${server.port}/v1/recommend`, {
        method: 'POST',
        body: JSON.stringify({ user, k: 5 }),
      })
    ).json()) as { result: { user: { known: boolean; coldStart: boolean } } };
    expect(rec.result.user).toMatchObject({ known: false, coldStart: true });
    const again = (await call(server.port, '/admin/export', { user })).result as typeof e;
    expect(again).toMatchObject({ streamed: [], forgotten: true, bundle: { known: true, usedForServing: false } });

    // What the store keeps: a tombstone of the keyed hash, and nothing of the shopper otherwise.
    const tombstones = (await call(server.port, '/admin/forgotten')).result as { pseudonyms: string[]; salt: string };
    expect(tombstones.pseudonyms).toHaveLength(1);
    const pseudonym = tombstones.pseudonyms[0];
    if (backend === 'embedded') {
      const text = readFileSync(log, 'utf8');
      expect(text.split('\n').filter((l) => l.includes(pseudonym))).toEqual([`{"t":"f","u":"${pseudonym}"}`]);
      expect(text).not.toContain(`"${user}"`);
      expect(readFileSync(`${log}.rejected`, 'utf8')).toBe('{"user":"someone-else","it\n');
    } else {
      const r = new Redis(redis!.url);
      const keys = await r.keys(`*${pseudonym}*`);
      r.disconnect();
      expect(keys).toEqual([`vitrine:{${pseudonym}}:gone`]);
    }

    // The next bundle leaves them out: train --forget with what GET /admin/forgotten answered.
    const file = join(dir, 'forgotten.json');
    writeFileSync(file, JSON.stringify(tombstones));
    const out = join(dir, 'models', 'v2');
    const train = spawnSync(
      process.execPath,
      [cliPath, 'train', '--data', shop, '--out', out, '--forget', file, '--no-tune', '--no-evaluate', '--epochs', '2'],
      { encoding: 'utf8', env: { ...process.env, VITRINE_PROGRESS: '0' } },
    );
    expect(train.status, train.stderr).toBe(0);
    const users = JSON.parse(readFileSync(join(out, 'users.json'), 'utf8')) as { ids: string[] };
    expect(users.ids).not.toContain(user);
    expect(users.ids).toHaveLength(b.userIds.length - 1);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).data.forgotten).toEqual({
      users: 1,
      events: expect.any(Number),
    });
  });
});
