import type { StreamedEvent } from '../protocol/calls.js';

/** What opening a store found (the embedded store's log replay; nothing for a fresh store). */
export interface OpenSummary {
  /** Entries read back (from the log). */
  events: number;
  /** Log lines that were not an entry (a torn last line after a crash, a damaged log). */
  unreadable: number;
  /** Where those lines were kept (`<log>.rejected`). */
  unreadableSavedTo?: string;
  /** Events still held once the bundle's data end and the caps applied. */
  kept: number;
  /** Why the log could not be rewritten: it is appended to as it is until the next rewrite. */
  rewriteError?: string;
}

/** What an acknowledged write survives, as the backend is configured: shown at start and in /metrics. */
export interface Durability {
  backend: 'embedded' | 'redis';
  /** `machine-crash`: survives the machine; `process-crash`: survives the store's process, not its machine; `none`: neither. */
  guarantee: 'machine-crash' | 'process-crash' | 'none' | 'unknown';
  /** The settings it follows from (`appendonly yes, appendfsync everysec`; `event log fsync`). */
  detail: string;
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

/** A per-user record (an experiment exposure, a promotion decision), kept until `expiresAt`. */
export interface StoredRecord {
  value: Record<string, unknown>;
  /** Unix seconds. */
  expiresAt: number;
}

/** Everything a request needs to know about its shopper from the store. */
/**
 * The record kind (id: item) of items a shopper disliked or returned while served: kept apart from
 * the event list, which holds only the latest events, so "never again" outlives it.
 */
export const REJECTED_KIND = 'rejected';

/** Records a shopper keeps of one kind (the oldest go first): a client cannot grow them without bound. */
export const MAX_RECORDS_PER_KIND = 100;

export interface UserState {
  /** Events since the bundle was built, oldest first. */
  streamed?: StreamedEvent[];
  /** Item ids of the shopper's REJECTED_KIND records. */
  rejected?: string[];
  /** The shopper asked to be forgotten: the bundle's copy of their history must not be used. */
  forgotten: boolean;
}

/** All the store holds about one shopper (the privacy export). */
export interface UserExport {
  pseudonym: string;
  streamed: StreamedEvent[];
  records: Record<string, Record<string, StoredRecord>>;
  forgotten: boolean;
}

/**
 * The shoppers who asked to be forgotten, as keyed hashes of their ids: `train --forget` hashes every
 * user id of its data with `salt` and leaves out those that match. The ids themselves are kept nowhere.
 */
export interface Tombstones {
  algorithm: 'hmac-sha256';
  salt: string;
  pseudonyms: string[];
}

/**
 * Per-user state the server keeps between requests, behind one interface so that a replica can keep
 * it in process (the embedded store) or share it with other replicas (Redis). Users are keyed by a
 * keyed hash of their id (a pseudonym), never by the id itself. Besides events it holds per-user
 * records with an expiry and named counters, so that later state (experiment exposures, promotion
 * decisions, bandit counts) lives where the events do and replicas share it too.
 */
export interface StateStore {
  readonly backend: 'embedded' | 'redis';
  /** Loads what the store holds, dropping events the serving bundle learned from (before `referenceTime`). */
  open(referenceTime: number): Promise<OpenSummary>;
  durability(): Promise<Durability>;
  /**
   * Records an event; resolves once it is durable (as the store defines it), with the number of
   * events the user now has. A rejection means the event is not acknowledged.
   */
  append(user: string, e: StreamedEvent): Promise<number>;
  /** The shopper's events since the bundle was built (oldest first) and whether they were forgotten. */
  userState(user: string): Promise<UserState>;
  /** After a reload: drops what the new bundle learned from. Resolves with the events kept. */
  prune(referenceTime: number): Promise<number>;
  putRecord(user: string, kind: string, id: string, record: StoredRecord): Promise<void>;
  /** The shopper's unexpired records of one kind, by id. */
  records(user: string, kind: string): Promise<Record<string, StoredRecord>>;
  /**
   * Claims the shopper's unexpired record (kind, id) once: true for the first claim only, on any
   * replica (a decision is credited with one conversion however many purchases follow it), false
   * for a later claim or a record that is not there. The claim is kept as a record of kind
   * `~claim:<kind>` with the same id and expiry.
   */
  claimRecord(user: string, kind: string, id: string): Promise<boolean>;
  /** Adds to fields of a named counter (created at zero). */
  increment(counter: string, deltas: Record<string, number>): Promise<void>;
  readCounter(counter: string): Promise<Record<string, number>>;
  exportUser(user: string): Promise<UserExport>;
  /** Erases the shopper's events and records and keeps a tombstone; resolves with what was removed. */
  forgetUser(user: string): Promise<{ events: number; records: number }>;
  tombstones(): Promise<Tombstones>;
  stats(): StoreStats;
  close(): Promise<void>;
}
