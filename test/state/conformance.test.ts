import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTombstones } from '../../src/data/forget.js';
import { EmbeddedStore } from '../../src/state/embedded-store.js';
import { createStore } from '../../src/state/open-store.js';
import { MAX_RECORDS_PER_KIND, REJECTED_KIND, type StateStore } from '../../src/state/store.js';
import { tempDir } from '../helpers/paths.js';
import { TestRedis, TestRedisCluster } from '../helpers/redis.js';

/**
 * One suite, every backend (the pattern Gorse's and Hono's test suites follow): what a store must do
 * is checked the same way whether state lives in this process or in Redis.
 */
interface Backend {
  name: string;
  /** A new store over the same state (a restart, or another replica). */
  open: () => StateStore;
  /** Everything the backend persisted, as text: the raw user ids must appear nowhere in it. */
  persisted: () => Promise<string>;
  durable: boolean;
  /** Another handle may open the same state at once (replicas sharing it). */
  shared: boolean;
  /** What an acknowledged event survives, as the store reports it (start-up log, /metrics). */
  guarantee: string;
}

const settings = {
  eventLogSync: 'fsync' as const,
  maxStreamedUsers: 10_000,
  maxStreamedMemoryMiB: 64,
  storeTimeoutMs: 2000,
  storeUserTtlDays: 30,
};
const redisDump = async (url: string): Promise<string> => {
  const r = new Redis(url);
  const keys = await r.keys('*');
  const values = await Promise.all(keys.map(async (k) => `${k} ${JSON.stringify(await r.dump(k))}`));
  r.disconnect();
  return values.join('\n');
};

const servers: { redis?: TestRedis; cluster?: TestRedisCluster } = {};
const logDir = tempDir('vitrine-conformance-');
let runs = 0;
const backends: Backend[] = [
  {
    name: 'embedded, in memory',
    open: () => new EmbeddedStore({ maxPerUser: 200, maxUsers: 10_000 }),
    persisted: async () => '',
    durable: false,
    shared: false,
    guarantee: 'none',
  },
  {
    name: 'embedded, with an event log',
    open: () => createStore({ ...settings, eventLog: join(logDir, `events-${runs}.jsonl`) }),
    persisted: async () =>
      readdirSync(logDir)
        .map((f) => readFileSync(join(logDir, f), 'utf8'))
        .join('\n'),
    durable: true,
    shared: false,
    guarantee: 'machine-crash',
  },
  {
    name: 'Redis',
    open: () => createStore({ ...settings, store: servers.redis!.url }),
    persisted: () => redisDump(servers.redis!.url),
    durable: true,
    shared: true,
    // The test servers run the AOF fsynced every second: a Redis crash loses nothing, a machine crash may.
    guarantee: 'process-crash',
  },
  {
    name: 'Redis Cluster',
    open: () => createStore({ ...settings, store: servers.cluster!.url }),
    persisted: async () => (await Promise.all(servers.cluster!.nodes.map((n) => redisDump(n.url)))).join('\n'),
    durable: true,
    shared: true,
    guarantee: 'process-crash',
  },
];

beforeAll(async () => {
  [servers.redis, servers.cluster] = await Promise.all([TestRedis.start(), TestRedisCluster.start()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([servers.redis?.stop(), servers.cluster?.stop()]);
});

const ev = (item: string, ts: number) => ({ item, type: 'view', ts });

describe.each(backends)('state store: $name', (b) => {
  let store: StateStore;
  const user = `shopper-${Math.random().toString(36).slice(2)}@example.com`;

  beforeAll(async () => {
    runs++;
    store = b.open();
    await store.open(1000);
  });
  afterAll(() => store.close());

  it('reports what an acknowledged event survives', async () => {
    expect((await store.durability()).guarantee).toBe(b.guarantee);
  });

  it("keeps each shopper's events in order, the newest 200, and counts them", async () => {
    expect(await store.userState(user)).toEqual({ streamed: undefined, forgotten: false });
    for (let t = 0; t < 205; t++) expect(await store.append(user, ev(`i${t}`, 2000 + t))).toBe(Math.min(t + 1, 200));
    const { streamed } = await store.userState(user);
    expect(streamed?.map((e) => e.item)).toEqual(Array.from({ length: 200 }, (_, j) => `i${j + 5}`));
    expect(await store.append('other', { item: 'x', type: 'purchase', ts: 3000, price: 9.5, quantity: 2 })).toBe(1);
    expect((await store.userState('other')).streamed).toEqual([
      { item: 'x', type: 'purchase', ts: 3000, price: 9.5, quantity: 2 },
    ]);
  });

  it('drops what a newer bundle learned from', async () => {
    await store.prune(2100);
    expect((await store.userState(user)).streamed?.[0].item).toBe('i100');
  });

  it('keeps records by kind until they expire, and adds up counters', async () => {
    const now = Date.now() / 1000;
    await store.putRecord(user, 'decision', 'd1', { value: { promotion: 'P1' }, expiresAt: now + 3600 });
    await store.putRecord(user, 'decision', 'd0', { value: { promotion: 'P0' }, expiresAt: now - 1 });
    await store.putRecord(user, 'exposure', 'e1', { value: { variant: 'B' }, expiresAt: now + 3600 });
    expect(Object.keys(await store.records(user, 'decision'))).toEqual(['d1']);
    expect((await store.records(user, 'exposure')).e1.value).toEqual({ variant: 'B' });
    await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        store.increment('bandit', { 'seg1|P1:trials': 1, 'seg1|P1:reward': j % 2 ? 0.5 : 0 }),
      ),
    );
    expect(await store.readCounter('bandit')).toEqual({ 'seg1|P1:trials': 50, 'seg1|P1:reward': 12.5 });
    expect(await store.readCounter('none-such')).toEqual({});
  });

  it('holds a bounded number of records per shopper: the newest of a kind kept, expired ones cleared', async () => {
    const busy = `busy-${Math.random().toString(36).slice(2)}@example.com`;
    const now = Date.now() / 1000;
    // A promotion decision a day for most of a year, say; the later ones expire later...
    for (let j = 0; j < 301; j++)
      await store.putRecord(busy, 'decision', `d${j}`, { value: {}, expiresAt: now + 3600 + j });
    // ...and one written last that expires sooner (a shorter attribution window): kept all the same.
    await store.putRecord(busy, 'decision', 'soon', { value: {}, expiresAt: now + 60 });
    const kept = Object.keys(await store.records(busy, 'decision'));
    expect(kept.length).toBeGreaterThanOrEqual(MAX_RECORDS_PER_KIND);
    expect(kept.length).toBeLessThanOrEqual(2 * MAX_RECORDS_PER_KIND);
    expect(kept).toEqual(expect.arrayContaining(['soon', 'd300']));
    expect(kept).not.toContain('d0');
    for (let j = 0; j < 300; j++) await store.putRecord(busy, 'seen', `s${j}`, { value: {}, expiresAt: now - 1 });
    // What the store holds (forget counts it, expired records too) stays bounded as more arrive.
    expect((await store.forgetUser(busy)).records).toBeLessThanOrEqual(2 * MAX_RECORDS_PER_KIND);
  });

  it("reads a shopper's rejected items with their events, in the same read", async () => {
    const now = Date.now() / 1000;
    const shopper = 'never-again';
    await store.append(shopper, ev('i1', 5000));
    expect((await store.userState(shopper)).rejected).toBeUndefined();
    await store.putRecord(shopper, REJECTED_KIND, 'i7', { value: { type: 'dislike' }, expiresAt: now + 3600 });
    await store.putRecord(shopper, REJECTED_KIND, 'i8', { value: { type: 'return' }, expiresAt: now - 1 });
    const state = await store.userState(shopper);
    expect(state.rejected).toEqual(['i7']);
    expect(state.streamed?.map((e) => e.item)).toEqual(['i1']);
    await store.forgetUser(shopper);
    expect((await store.userState(shopper)).rejected).toBeUndefined();
  });

  it('lets exactly one of many concurrent claims on a record win, and none on a missing or expired one', async () => {
    const claimer = `claimer-${Math.random().toString(36).slice(2)}@example.com`;
    const now = Date.now() / 1000;
    await store.putRecord(claimer, 'decision', 'd1', { value: { promotion: 'P1' }, expiresAt: now + 3600 });
    await store.putRecord(claimer, 'decision', 'old', { value: { promotion: 'P0' }, expiresAt: now - 1 });
    // Where the state is shared, a second handle on it (another replica) races the first.
    const other = b.shared ? b.open() : store;
    if (other !== store) await other.open(1000);
    try {
      const claims = await Promise.all(
        Array.from({ length: 10 }, (_, j) => (j % 2 ? other : store).claimRecord(claimer, 'decision', 'd1')),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await store.claimRecord(claimer, 'decision', 'd1')).toBe(false);
      expect(await store.claimRecord(claimer, 'decision', 'no-such')).toBe(false);
      expect(await store.claimRecord(claimer, 'decision', 'old')).toBe(false);
      expect(Object.keys(await store.records(claimer, '~claim:decision'))).toEqual(['d1']);
    } finally {
      if (other !== store) await other.close();
    }
  });

  it('exports a shopper, then forgets them: nothing left but a tombstone of their keyed hash', async () => {
    const held = await store.exportUser(user);
    expect(held.streamed).toHaveLength(105);
    expect(Object.keys(held.records).sort()).toEqual(['decision', 'exposure']);
    expect(held.forgotten).toBe(false);
    // Every record goes, the expired one too.
    expect(await store.forgetUser(user)).toEqual({ events: 105, records: 3 });
    expect(await store.userState(user)).toEqual({ streamed: undefined, forgotten: true });
    expect(await store.exportUser(user)).toEqual({
      pseudonym: held.pseudonym,
      streamed: [],
      records: {},
      forgotten: true,
    });
    const tombstones = await store.tombstones();
    expect(tombstones.pseudonyms).toContain(held.pseudonym);
    // What train --forget reads: it recognises the id from the hash, and only that id.
    const file = join(tempDir(), 'forgotten.json');
    writeFileSync(file, JSON.stringify(tombstones));
    const forgotten = readTombstones(file);
    expect([forgotten(user), forgotten('other')]).toEqual([true, false]);
    // Back as a new shopper: new events are kept.
    expect(await store.append(user, ev('again', 5000))).toBe(1);
    expect(await store.userState(user)).toEqual({ streamed: [ev('again', 5000)], forgotten: true });
  });

  it('never stores a raw user id', async () => {
    expect(await b.persisted()).not.toContain('@example.com');
  });

  it('keeps everything across a restart, under the same pseudonyms', async () => {
    if (!b.durable) return;
    const before = await store.exportUser('other');
    await store.close();
    store = b.open();
    await store.open(2100);
    expect(await store.exportUser('other')).toEqual(before);
    expect((await store.userState(user)).forgotten).toBe(true);
    expect(await store.readCounter('bandit')).toEqual({ 'seg1|P1:trials': 50, 'seg1|P1:reward': 12.5 });
  });
});

describe("the Redis store's guarantee follows Redis's persistence settings", () => {
  it.each([
    [
      { appendonly: false },
      'none',
      /appendonly no, appendfsync everysec: a Redis restart loses what came after its last snapshot/,
    ],
    [{ appendfsync: 'always' as const }, 'machine-crash', /^appendonly yes, appendfsync always$/],
  ])('%o: %s', async (persistence, guarantee, detail) => {
    const redis = await TestRedis.start(persistence);
    const store = createStore({ ...settings, store: redis.url });
    try {
      await store.open(0);
      expect(await store.durability()).toMatchObject({
        backend: 'redis',
        guarantee,
        detail: expect.stringMatching(detail),
      });
    } finally {
      await store.close();
      await redis.stop();
    }
  });
});
