import type { ExecutionProviderChoice } from '../../backends/onnx.js';
import { DEFAULT_LIMITS, type Limits } from '../../protocol/calls.js';
import type { EventLogSync } from '../../state/event-log.js';
import { defaultWorkers } from '../pool-options.js';

export interface ServerConfig {
  host: string;
  port: number;
  /** A bundle directory (its newest version is served) or one version directory. */
  bundle: string;
  /** An optional newer catalogue (items.csv/.jsonl): items missing from the bundle are placed by attributes. */
  catalog?: string;
  workers: number;
  concurrentTasksPerWorker: number;
  /** Most requests handed to a worker as one message (requests that piled up while it was busy). */
  maxBatch: number;
  /** Requests waiting for a worker; past it requests get `overloaded`. */
  maxQueue: number;
  maxInFlightPerConnection: number;
  /** Longest a request may wait for a worker, ms; past it (or expected past it) it gets `overloaded`. */
  queueDeadlineMs: number;
  /** The same while the queue stands (waits past it for over 100 ms: overload, not a burst), ms. */
  overloadDeadlineMs: number;
  /**
   * Arrivals per second under which a request that finds every worker idle is served by the main
   * thread's own copy of the model (no hand-off to a sleeping thread); 0: the workers serve all.
   */
  inlineBelow: number;
  /** Open WebSocket connections; further upgrades are refused with 503. */
  maxConnections: number;
  /**
   * Replies written to WebSocket connections and not yet read by their clients, over all connections,
   * MiB; past it, connections with unread replies get `too_many_in_flight` until their clients read.
   */
  maxUnreadReplyMiB: number;
  /** Largest request frame or HTTP body accepted, bytes; larger ones get `frame_too_large`. */
  maxFrameBytes: number;
  limits: Limits;
  provider: ExecutionProviderChoice;
  efSearch?: number;
  /** Bearer token for admin calls (reload); without one, admin calls are refused. */
  adminToken?: string;
  /** Optional bearer token every client call must carry. */
  clientToken?: string;
  /** Append-only log of streamed events, replayed at start (empty: events live only in memory). */
  eventLog?: string;
  /** 'fsync': an event is acknowledged once the log is on disk (group commit); 'none': once written. */
  eventLogSync: EventLogSync;
  /** Users whose streamed events are held; past it the least recently active are forgotten. */
  maxStreamedUsers: number;
  /** The same bound on the memory those events take, in MiB (estimated from the ids' lengths). */
  maxStreamedMemoryMiB: number;
  /** Key for pseudonymising user ids in logs. */
  pseudonymKey?: string;
  logLevel: string;
  /**
   * What "now" is for features and events without a time: the wall clock, or the bundle's data end
   * (for demos and replays on historical data, where the wall clock is months after the data).
   */
  clock: 'wall' | 'bundle';
  /** Longest wait for in-flight requests on shutdown, seconds. */
  drainSeconds: number;
  /**
   * Where per-user state lives: a Redis URL (`redis://host:port/db`, `rediss://`, `redis+cluster://a:p,b:p`)
   * shared by every replica pointing at it; absent: the embedded store (memory, and --event-log).
   */
  store?: string;
  /** How long a state store command may take before the request gets `timeout`, ms. */
  storeTimeoutMs: number;
  /** A shopper's state in Redis expires this many days after their last event. */
  storeUserTtlDays: number;
  /** Origins whose pages may call the HTTP API from a browser (`*`: any); none by default. */
  corsOrigins?: string[];
  /**
   * A second port for /healthz, /readyz and /metrics served by Node's HTTP stack, which answers what
   * uWS does not (HTTP/1.0, a request without Host: HAProxy's default health check). Unset: none.
   */
  probePort?: number;
  /** A promotion catalogue (CSV, TSV, JSONL or JSON): what the `promotion` call chooses among. */
  promotions?: string;
  /** A purchase this many hours after a promotion decision is credited to it. */
  attributionHours: number;
  /** An experiments file (JSON): A/B tests of bundle versions, ranking settings and promotion policies. */
  experiments?: string;
  /** Workers of each extra pool an experiment variant's bundle version is served from. */
  experimentWorkers: number;
  /** The share of promotion decisions made at random among the eligible offers (the exploration floor). */
  promotionExploration: number;
}

export function defaultConfig(bundle: string): ServerConfig {
  const workers = defaultWorkers();
  return {
    host: '127.0.0.1',
    port: 8080,
    bundle,
    workers,
    concurrentTasksPerWorker: 2,
    maxBatch: 8,
    maxQueue: workers * 256,
    maxInFlightPerConnection: 256,
    queueDeadlineMs: 50,
    overloadDeadlineMs: 5,
    inlineBelow: 100,
    maxConnections: 10_000,
    maxUnreadReplyMiB: 256,
    maxFrameBytes: 1 << 20,
    limits: { ...DEFAULT_LIMITS },
    provider: 'auto',
    logLevel: 'info',
    clock: 'wall',
    drainSeconds: 30,
    maxStreamedUsers: 100_000,
    maxStreamedMemoryMiB: 512,
    eventLogSync: 'fsync',
    storeTimeoutMs: 250,
    storeUserTtlDays: 90,
    attributionHours: 72,
    promotionExploration: 0.02,
    experimentWorkers: 1,
  };
}
