import { VitrineError } from '../protocol/errors.js';
import { EmbeddedStore } from './embedded-store.js';
import type { EventLogSync } from './event-log.js';
import { RedisStore } from './redis-store.js';
import { parseRedisUrl } from './redis-url.js';
import type { StateStore } from './store.js';

/** The settings a store is made from (the server's config has them under these names). */
export interface StoreSettings {
  /** A Redis URL; absent: the embedded store. */
  store?: string;
  eventLog?: string;
  eventLogSync: EventLogSync;
  maxStreamedUsers: number;
  maxStreamedMemoryMiB: number;
  storeTimeoutMs: number;
  storeUserTtlDays: number;
}

/** Events kept per user, whichever the backend. */
export const MAX_EVENTS_PER_USER = 200;

export function createStore(s: StoreSettings): StateStore {
  if (s.store === undefined) {
    const log = s.eventLog ? { path: s.eventLog, sync: s.eventLogSync } : undefined;
    return new EmbeddedStore({
      maxPerUser: MAX_EVENTS_PER_USER,
      maxUsers: s.maxStreamedUsers,
      maxBytes: s.maxStreamedMemoryMiB * (1 << 20),
      log,
    });
  }
  if (s.eventLog)
    throw new VitrineError(
      'invalid_argument',
      "--event-log is the embedded store's log; with --store redis://... events live in Redis (configure its persistence instead)",
    );
  return new RedisStore({
    target: parseRedisUrl(s.store),
    maxPerUser: MAX_EVENTS_PER_USER,
    timeoutMs: s.storeTimeoutMs,
    userTtlSeconds: s.storeUserTtlDays * 86400,
  });
}
