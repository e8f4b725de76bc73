import type { StateStore } from '../state/store.js';
import type { ServerConfig } from './config/index.js';
import type { Logger } from './log.js';
import type { ServerMetrics } from './metrics.js';

const GUARANTEE = {
  'machine-crash': 'a crash of the machine',
  'process-crash': "a crash of the store's process, not of its machine",
  none: 'nothing: it lives in memory',
  unknown: 'what the store is configured for (its settings could not be read)',
} as const;

/** Opens the state store (replaying the event log), and says what an acknowledged event survives. */
export async function openStateStore(
  store: StateStore,
  c: ServerConfig,
  log: Logger,
  metrics: ServerMetrics,
  referenceTime: number,
): Promise<void> {
  const replay = await store.open(referenceTime);
  const durability = await store.durability();
  metrics.storeInfo.set({ backend: durability.backend, guarantee: durability.guarantee, detail: durability.detail }, 1);
  log.info(
    { store: c.store ?? 'embedded', ...durability },
    `state store: an acknowledged event survives ${GUARANTEE[durability.guarantee]} (${durability.detail})`,
  );
  if (durability.guarantee === 'none' && c.store !== undefined)
    log.warn(
      { store: c.store },
      'Redis keeps no append-only file: a Redis restart loses acknowledged events (set appendonly yes)',
    );
  if (c.eventLog) {
    log.info(
      { eventLog: c.eventLog, ...replay, users: store.stats().users },
      'replayed the event log and kept only what is held',
    );
    if (replay.unreadable > 0) {
      const where = replay.unreadableSavedTo ? `moved to ${replay.unreadableSavedTo}` : 'left in the log';
      const why = 'a torn last line after a crash, or a damaged log';
      log.warn(
        { eventLog: c.eventLog, unreadable: replay.unreadable, savedTo: replay.unreadableSavedTo },
        `event log lines that are not a valid entry were not replayed (${why}): ${where}`,
      );
    }
    if (replay.rewriteError)
      log.warn(
        { eventLog: c.eventLog, err: replay.rewriteError },
        'the event log could not be rewritten (appending to it as it is; the next reload or start tries again)',
      );
  }
}
