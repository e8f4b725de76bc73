import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore } from '../../src/state/open-store.js';
import type { StateStore } from '../../src/state/store.js';
import { TestRedis } from '../../test/helpers/redis.js';
import type { Table } from './table.js';

interface Backend {
  name: string;
  /** What an acknowledgement waited for. */
  durability: string;
  open: (run: string) => Promise<{ store: StateStore; cleanup: () => Promise<void> }>;
}

const settings = {
  eventLogSync: 'fsync' as const,
  maxStreamedUsers: 100_000,
  maxStreamedMemoryMiB: 512,
  storeTimeoutMs: 5000,
  storeUserTtlDays: 1,
};

function embedded(sync: 'none' | 'fsync'): Backend {
  return {
    name: 'embedded',
    durability: sync === 'fsync' ? 'event log fsynced' : 'event log written',
    open: async (run) => {
      const dir = join(tmpdir(), `vitrine-bench-events-${process.pid}-${run}`);
      const store = createStore({ ...settings, eventLog: join(dir, 'events.jsonl'), eventLogSync: sync });
      return { store, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  };
}

function redis(appendfsync: 'everysec' | 'always'): Backend {
  return {
    name: 'redis',
    durability: `AOF, appendfsync ${appendfsync}`,
    open: async () => {
      const server = await TestRedis.start({ appendfsync });
      return { store: createStore({ ...settings, store: server.url }), cleanup: () => server.stop() };
    },
  };
}

/**
 * The event path of the state store: each producer appends an event and waits for its
 * acknowledgement, as a connection's requests do. Producers share fsyncs (the event log's group
 * commit; Redis's own once per event-loop turn with `always`).
 */
export async function eventsSuite(table: Table): Promise<Record<string, unknown>> {
  const total = 20_000;
  const rows: (string | number)[][] = [];
  const runs: Record<string, unknown>[] = [];
  for (const backend of [embedded('none'), embedded('fsync'), redis('everysec'), redis('always')]) {
    for (const producers of [1, 32, 256]) {
      const { store, cleanup } = await backend.open(`${backend.durability}-${producers}`.replace(/\W+/g, '-'));
      await store.open(0);
      const ack: number[] = [];
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: producers }, async () => {
          while (next < total) {
            const j = next++;
            const t = performance.now();
            await store.append(`u${j % 5000}`, { item: `i${(j * 7919) % 100_000}`, type: 'view', ts: 1 + j });
            ack.push(performance.now() - t);
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const fsyncs = store.stats().logFsyncs;
      await store.close();
      await cleanup();
      ack.sort((a, b) => a - b);
      const pct = (q: number): number =>
        Number((ack[Math.min(ack.length - 1, Math.floor(q * ack.length))] * 1000).toFixed(1));
      const row = {
        backend: backend.name,
        durability: backend.durability,
        producers,
        eventsPerSecond: Math.round(total / seconds),
        p50Us: pct(0.5),
        p99Us: pct(0.99),
        fsyncs,
      };
      runs.push(row);
      rows.push([row.backend, row.durability, producers, row.eventsPerSecond, row.p50Us, row.p99Us, fsyncs ?? '-']);
    }
  }
  table(
    `state store: ${total.toLocaleString()} events appended and acknowledged, per backend`,
    ['backend', 'acknowledged once', 'producers', 'events/s', 'ack p50 µs', 'ack p99 µs', 'log fsyncs'],
    rows,
  );
  return { events: total, runs };
}
