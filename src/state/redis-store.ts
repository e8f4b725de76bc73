import { Cluster, Redis } from 'ioredis';
import type { StreamedEvent } from '../protocol/calls.js';
import { VitrineError } from '../protocol/errors.js';
import { newSalt, Pseudonyms } from '../util/pseudonym.js';
import { guaranteeOf } from './redis-durability.js';
import { SCRIPTS, type ScriptCommands } from './redis-scripts.js';
import type { RedisTarget } from './redis-url.js';
import {
  MAX_RECORDS_PER_KIND,
  REJECTED_KIND,
  type Durability,
  type OpenSummary,
  type StateStore,
  type StoredRecord,
  type StoreStats,
  type Tombstones,
  type UserExport,
  type UserState,
} from './store.js';

export interface RedisStoreOptions {
  target: RedisTarget;
  /** Events kept per user. */
  maxPerUser: number;
  /** How long a command may take before it fails with `timeout`, ms. */
  timeoutMs: number;
  /** A user's keys expire this long after their last write (bounds what Redis holds), seconds. */
  userTtlSeconds: number;
  /** Key prefix, so several shops can share one Redis. */
  prefix?: string;
}

type Client = (Redis | Cluster) & ScriptCommands;

/** While reads failed this recently, requests do not wait for them (they are answered from the bundle). */
const READ_BACKOFF_MS = 1000;

/**
 * Per-user state in Redis, shared by every replica that points at it. An event is acknowledged once
 * Redis has answered its write; what that survives depends on Redis's persistence (see durability()).
 * Commands fail fast instead of queueing when Redis is unreachable (`unavailable`) and time out when
 * it is slow (`timeout`); the client reconnects by itself, so the server recovers without a restart.
 */
export class RedisStore implements StateStore {
  readonly backend = 'redis';
  private readonly client: Client;
  private readonly prefix: string;
  private names: Pseudonyms | undefined;
  private referenceTime = -Infinity;
  private readsSuspendedUntil = 0;

  constructor(private readonly o: RedisStoreOptions) {
    this.prefix = o.prefix ?? 'vitrine';
    const common = {
      commandTimeout: o.timeoutMs,
      scripts: SCRIPTS,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
    };
    const retry = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2000);
    const t = o.target;
    this.client = (
      t.cluster
        ? new Cluster(t.nodes, {
            scripts: SCRIPTS,
            enableAutoPipelining: true,
            lazyConnect: true,
            enableOfflineQueue: false,
            clusterRetryStrategy: retry,
            redisOptions: { ...common, password: t.password, username: t.username, tls: t.tls ? {} : undefined },
          })
        : new Redis({
            ...common,
            ...t.nodes[0],
            db: t.db,
            password: t.password,
            username: t.username,
            tls: t.tls ? {} : undefined,
            lazyConnect: true,
            enableOfflineQueue: false,
            retryStrategy: retry,
          })
    ) as Client;
    // Connection errors surface through the commands that fail; an unhandled 'error' would end the process.
    this.client.on('error', () => undefined);
  }

  private key(kind: 'ev' | 'rec' | 'gone', u: string): string {
    return `${this.prefix}:{${u}}:${kind}`;
  }

  private pseudonym(user: string): string {
    if (!this.names) throw new Error('the Redis store is not open');
    return this.names.of(user);
  }

  /** A failed command as the error catalogue names it: Redis slow (`timeout`) or away (`unavailable`). */
  private failure(e: unknown, what: string): VitrineError {
    const message = (e as Error).message ?? String(e);
    if (/timed out/i.test(message))
      return new VitrineError(
        'timeout',
        `the state store (Redis at ${this.o.target.display}) did not answer ${what} within ${this.o.timeoutMs} ms`,
      );
    return new VitrineError(
      'unavailable',
      `the state store (Redis at ${this.o.target.display}) is unreachable (${message.split('\n')[0]}); ${what} was not done`,
    );
  }

  private async run<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (e) {
      throw this.failure(e, what);
    }
  }

  async open(referenceTime: number): Promise<OpenSummary> {
    try {
      await this.client.connect();
    } catch (e) {
      throw new VitrineError(
        'unavailable',
        `--store ${this.o.target.display}: cannot connect to Redis (${(e as Error).message})`,
      );
    }
    const saltKey = `${this.prefix}:salt`;
    await this.run('reading the pseudonym salt', () => this.client.set(saltKey, newSalt(), 'NX'));
    const salt = await this.run('reading the pseudonym salt', () => this.client.get(saltKey));
    if (!salt)
      throw new VitrineError(
        'unavailable',
        `--store ${this.o.target.display}: the pseudonym salt ${saltKey} could not be read`,
      );
    this.names = new Pseudonyms(salt);
    this.referenceTime = referenceTime;
    return { events: 0, unreadable: 0, kept: 0 };
  }

  async durability(): Promise<Durability> {
    return guaranteeOf(this.client, this.o.target.cluster);
  }

  async append(user: string, e: StreamedEvent): Promise<number> {
    const u = this.pseudonym(user);
    const n = await this.run('recording the event', () =>
      this.client.vitrineAppend(
        this.key('ev', u),
        JSON.stringify(e),
        this.o.maxPerUser,
        this.o.userTtlSeconds,
        this.finiteReference(),
      ),
    );
    // Redis answered: reads need not wait out their back-off any longer.
    this.readsSuspendedUntil = 0;
    return n;
  }

  async userState(user: string): Promise<UserState> {
    if (Date.now() < this.readsSuspendedUntil)
      throw new VitrineError(
        'unavailable',
        `the state store (Redis at ${this.o.target.display}) failed a moment ago; not waiting for it`,
      );
    const u = this.pseudonym(user);
    let read: [number, string[], Record<string, string>];
    try {
      // Three read-only commands in one auto-pipelined write. A forget landing between them can only
      // leave this one concurrent read with less than before it (no streamed events), never more.
      read = await Promise.all([
        this.client.exists(this.key('gone', u)),
        this.client.lrange(this.key('ev', u), 0, -1),
        this.client.hgetall(this.key('rec', u)),
      ]);
    } catch (e) {
      this.readsSuspendedUntil = Date.now() + READ_BACKOFF_MS;
      throw this.failure(e, "reading the shopper's events");
    }
    const [gone, events, records] = read;
    const streamed = events.map((s) => JSON.parse(s) as StreamedEvent).filter((e) => e.ts >= this.referenceTime);
    const rejected = Object.keys(liveRecords(records, REJECTED_KIND)[REJECTED_KIND] ?? {});
    return {
      streamed: streamed.length > 0 ? streamed : undefined,
      ...(rejected.length > 0 && { rejected }),
      forgotten: gone === 1,
    };
  }

  /** The data end as a number Lua can read (-Infinity is not one). */
  private finiteReference(): number {
    return Number.isFinite(this.referenceTime) ? this.referenceTime : -1e308;
  }

  /** Events the new bundle learned from are filtered out on every read (and trimmed away with the list's cap). */
  async prune(referenceTime: number): Promise<number> {
    this.referenceTime = referenceTime;
    return 0;
  }

  async putRecord(user: string, kind: string, id: string, record: StoredRecord): Promise<void> {
    const u = this.pseudonym(user);
    const now = Date.now() / 1000;
    const ttl = Math.max(1, Math.ceil(record.expiresAt - now));
    await this.run('recording', () =>
      this.client.vitrinePutRecord(
        this.key('rec', u),
        `${kind}\u0000${id}`,
        JSON.stringify({ v: record.value, x: record.expiresAt }),
        ttl,
        now,
        `${kind}\u0000`,
        MAX_RECORDS_PER_KIND,
      ),
    );
  }

  async records(user: string, kind: string): Promise<Record<string, StoredRecord>> {
    const all = await this.allRecords(this.pseudonym(user));
    return all[kind] ?? {};
  }

  async claimRecord(user: string, kind: string, id: string): Promise<boolean> {
    const key = this.key('rec', this.pseudonym(user));
    const json = await this.run('reading a record', () => this.client.hget(key, `${kind}\u0000${id}`));
    if (json === null) return false;
    const { x } = JSON.parse(json) as { x: number };
    if (x <= Date.now() / 1000) return false;
    // HSETNX: of any number of replicas claiming at once, exactly one sets the field.
    const won = await this.run('claiming a record', () =>
      this.client.hsetnx(key, `~claim:${kind}\u0000${id}`, JSON.stringify({ v: {}, x })),
    );
    return won === 1;
  }

  private async allRecords(u: string): Promise<Record<string, Record<string, StoredRecord>>> {
    return liveRecords(await this.run('reading records', () => this.client.hgetall(this.key('rec', u))));
  }

  async increment(counter: string, deltas: Record<string, number>): Promise<void> {
    const key = `${this.prefix}:c:${counter}`;
    await this.run('counting', () =>
      Promise.all(Object.entries(deltas).map(([f, d]) => this.client.hincrbyfloat(key, f, d))),
    );
  }

  async readCounter(counter: string): Promise<Record<string, number>> {
    const fields = await this.run('reading a counter', () => this.client.hgetall(`${this.prefix}:c:${counter}`));
    return Object.fromEntries(Object.entries(fields).map(([f, v]) => [f, Number(v)]));
  }

  async exportUser(user: string): Promise<UserExport> {
    const u = this.pseudonym(user);
    const [events, gone] = await this.run('exporting', () =>
      Promise.all([this.client.lrange(this.key('ev', u), 0, -1), this.client.exists(this.key('gone', u))]),
    );
    return {
      pseudonym: u,
      // What the serving bundle learned from is no longer held (the next write trims it).
      streamed: events.map((s) => JSON.parse(s) as StreamedEvent).filter((e) => e.ts >= this.referenceTime),
      records: await this.allRecords(u),
      forgotten: gone === 1,
    };
  }

  async forgetUser(user: string): Promise<{ events: number; records: number }> {
    const u = this.pseudonym(user);
    // The tombstone listing first: a crash between the two leaves a shopper listed as forgotten whose
    // data a repeated call erases, never data without its tombstone.
    await this.run('forgetting', () => this.client.sadd(`${this.prefix}:gone`, u));
    const [events, records] = await this.run('forgetting', () =>
      this.client.vitrineForget(this.key('ev', u), this.key('rec', u), this.key('gone', u), this.finiteReference()),
    );
    return { events: Number(events), records: Number(records) };
  }

  async tombstones(): Promise<Tombstones> {
    const pseudonyms = await this.run('listing tombstones', () => this.client.smembers(`${this.prefix}:gone`));
    return { algorithm: 'hmac-sha256', salt: this.names?.salt ?? '', pseudonyms };
  }

  /** Redis holds the state: nothing is held in this process to count. */
  stats(): StoreStats {
    return { users: 0, evicted: 0, heldBytes: 0 };
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

/**
 * A record hash's unexpired records by kind and id (fields `kind\0id`, values {v, x}); `only`: of
 * that kind alone, the others not even parsed (every request reads the rejected items this way).
 */
function liveRecords(fields: Record<string, string>, only?: string): Record<string, Record<string, StoredRecord>> {
  const now = Date.now() / 1000;
  const prefix = only !== undefined ? `${only}\u0000` : '';
  const out: Record<string, Record<string, StoredRecord>> = {};
  for (const [field, json] of Object.entries(fields)) {
    if (!field.startsWith(prefix)) continue;
    const [kind, id] = field.split('\u0000');
    const r = JSON.parse(json) as { v: Record<string, unknown>; x: number };
    if (r.x > now) (out[kind] ??= {})[id] = { value: r.v, expiresAt: r.x };
  }
  return out;
}
