import type { StreamedEvent } from '../protocol/calls.js';

/** What opening a store found (the embedded store's log replay; nothing for a fresh store). */
export interface OpenSummary {
  /** Events read back (from the log). */
  events: number;
  /** Log lines that were not an event (a torn last line after a crash, a damaged log). */
  unreadable: number;
  /** Where those lines were kept (`<log>.rejected`). */
  unreadableSavedTo?: string;
  /** Events still held once the bundle's data end and the caps applied. */
  kept: number;
  /** Why the log could not be rewritten: it is appended to as it is until the next rewrite. */
  rewriteError?: string;
}

/** Figures for /metrics. */
export interface StoreStats {
  users: number;
  evicted: number;
  heldBytes: number;
  /** The event log's fsyncs and size, where there is a log. */
  logFsyncs?: number;
  logBytes?: number;
}

/**
 * Per-user state the server keeps between requests, behind one interface so that a replica can keep
 * it in process (the embedded store) or share it with other replicas.
 */
export interface StateStore {
  /** Loads what the store holds, dropping events the serving bundle learned from (before `referenceTime`). */
  open(referenceTime: number): Promise<OpenSummary>;
  /**
   * Records an event; resolves once it is durable (as the store defines it), with the number of
   * events the user now has. A rejection means the event is not acknowledged.
   */
  append(user: string, e: StreamedEvent): Promise<number>;
  /** The user's events since the bundle was built, oldest first; undefined when there are none. */
  recent(user: string): Promise<StreamedEvent[] | undefined>;
  /** After a reload: drops what the new bundle learned from. Resolves with the events kept. */
  prune(referenceTime: number): Promise<number>;
  stats(): StoreStats;
  close(): Promise<void>;
}
