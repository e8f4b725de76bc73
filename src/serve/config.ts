import { readFileSync } from 'node:fs';
import type { ExecutionProviderChoice } from '../backends/onnx.js';
import { DEFAULT_LIMITS, type Limits } from '../protocol/calls.js';
import { defaultWorkers } from './pool.js';
import { VitrineError } from '../protocol/errors.js';
import type { EventLogSync } from '../state/event-log.js';

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
    maxFrameBytes: 1 << 20,
    limits: { ...DEFAULT_LIMITS },
    provider: 'auto',
    logLevel: 'info',
    clock: 'wall',
    drainSeconds: 30,
    maxStreamedUsers: 100_000,
    maxStreamedMemoryMiB: 512,
    eventLogSync: 'fsync',
  };
}

const ENV: Record<string, keyof ServerConfig> = {
  VITRINE_HOST: 'host',
  VITRINE_PORT: 'port',
  VITRINE_BUNDLE: 'bundle',
  VITRINE_CATALOG: 'catalog',
  VITRINE_WORKERS: 'workers',
  VITRINE_TASKS_PER_WORKER: 'concurrentTasksPerWorker',
  VITRINE_MAX_QUEUE: 'maxQueue',
  VITRINE_MAX_BATCH: 'maxBatch',
  VITRINE_MAX_IN_FLIGHT: 'maxInFlightPerConnection',
  VITRINE_MAX_FRAME_BYTES: 'maxFrameBytes',
  VITRINE_PROVIDER: 'provider',
  VITRINE_EF_SEARCH: 'efSearch',
  VITRINE_ADMIN_TOKEN: 'adminToken',
  VITRINE_CLIENT_TOKEN: 'clientToken',
  VITRINE_EVENT_LOG: 'eventLog',
  VITRINE_EVENT_LOG_SYNC: 'eventLogSync',
  VITRINE_MAX_STREAMED_USERS: 'maxStreamedUsers',
  VITRINE_MAX_STREAMED_MEMORY_MIB: 'maxStreamedMemoryMiB',
  VITRINE_PSEUDONYM_KEY: 'pseudonymKey',
  VITRINE_LOG_LEVEL: 'logLevel',
  VITRINE_CLOCK: 'clock',
};

const NUMERIC = new Set<keyof ServerConfig>([
  'port',
  'workers',
  'concurrentTasksPerWorker',
  'maxBatch',
  'maxQueue',
  'maxInFlightPerConnection',
  'maxFrameBytes',
  'efSearch',
  'drainSeconds',
  'maxStreamedUsers',
  'maxStreamedMemoryMiB',
]);

/** Defaults, then a JSON config file, then VITRINE_* environment variables, then command-line flags. */
export function loadConfig(
  bundle: string | undefined,
  file: string | undefined,
  flags: Partial<ServerConfig>,
  env: NodeJS.ProcessEnv = process.env,
): ServerConfig {
  const fromFile = file ? readConfigFile(file) : {};
  const fromEnv: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    if (NUMERIC.has(key) && !/^\s*-?\d+(\.\d+)?\s*$/.test(v))
      throw new VitrineError('invalid_argument', `${name}: expected a number, got "${v}"`);
    fromEnv[key] = NUMERIC.has(key) ? Number(v) : v;
  }
  const fileSettings = dropUnset(fromFile);
  const flagSettings = dropUnset(flags);
  const chosenBundle = flagSettings.bundle ?? (fromEnv.bundle as string | undefined) ?? fileSettings.bundle ?? bundle;
  if (!chosenBundle)
    throw new VitrineError(
      'invalid_argument',
      '--bundle is required (or VITRINE_BUNDLE, or "bundle" in the config file)',
    );
  const base = defaultConfig(chosenBundle);
  const merged: ServerConfig = {
    ...base,
    ...fileSettings,
    ...(fromEnv as Partial<ServerConfig>),
    ...flagSettings,
    bundle: chosenBundle,
  };
  merged.limits = { ...base.limits, ...dropUnset(fileSettings.limits ?? {}), ...dropUnset(flagSettings.limits ?? {}) };
  if (fileSettings.maxQueue === undefined && fromEnv.maxQueue === undefined && flagSettings.maxQueue === undefined)
    merged.maxQueue = merged.workers * 256;
  validateConfig(merged);
  return merged;
}

/**
 * The config file's keys are checked by name, so a misspelt one ("prot") is an error rather than a
 * setting silently ignored; values are checked with everything else in validateConfig.
 */
function readConfigFile(file: string): Partial<ServerConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new VitrineError('invalid_argument', `--config ${file}: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new VitrineError('invalid_argument', `--config ${file}: expected a JSON object of settings`);
  const known = Object.keys(defaultConfig('x')).concat(
    'catalog',
    'efSearch',
    'adminToken',
    'clientToken',
    'eventLog',
    'pseudonymKey',
  );
  for (const key of Object.keys(parsed))
    if (!known.includes(key))
      throw new VitrineError(
        'invalid_argument',
        `--config ${file}: unknown setting "${key}" (known: ${known.sort().join(', ')})`,
      );
  const limits = (parsed as { limits?: unknown }).limits;
  if (limits !== undefined && limits !== null) {
    if (typeof limits !== 'object' || Array.isArray(limits))
      throw new VitrineError('invalid_argument', `--config ${file}: limits must be an object`);
    for (const key of Object.keys(limits))
      if (!(key in DEFAULT_LIMITS))
        throw new VitrineError(
          'invalid_argument',
          `--config ${file}: unknown limit "limits.${key}" (known: ${Object.keys(DEFAULT_LIMITS).join(', ')})`,
        );
  }
  return parsed as Partial<ServerConfig>;
}

/** Undefined, null and "" all mean "not set" (an empty eventLog: events in memory only). */
function dropUnset<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== ''),
  ) as Partial<T>;
}

/** Upper bounds of the request limits: past these a single request could exhaust a worker. */
const LIMIT_CEILINGS: Limits = {
  maxK: 10_000,
  maxCandidates: 100_000,
  maxHistory: 100_000,
  maxScoreItems: 100_000,
  maxBasket: 10_000,
};

export function validateConfig(c: ServerConfig): void {
  const int = (key: keyof ServerConfig, min: number, max: number): void => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw new VitrineError(
        'invalid_argument',
        `config ${key}: expected an integer between ${min} and ${max}, got ${JSON.stringify(v)}`,
      );
  };
  int('port', 0, 65535);
  int('workers', 1, 256);
  int('concurrentTasksPerWorker', 1, 64);
  int('maxBatch', 1, 1024);
  int('maxQueue', 0, 1_000_000);
  int('maxInFlightPerConnection', 1, 100_000);
  int('maxFrameBytes', 256, 64 << 20);
  int('drainSeconds', 0, 3600);
  int('maxStreamedUsers', 1, 100_000_000);
  int('maxStreamedMemoryMiB', 1, 1 << 20);
  if (c.efSearch !== undefined) int('efSearch', 10, 100_000);
  for (const [key, ceiling] of Object.entries(LIMIT_CEILINGS) as [keyof Limits, number][]) {
    const v = c.limits[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > ceiling)
      throw new VitrineError(
        'invalid_argument',
        `config limits.${key}: expected an integer between 1 and ${ceiling}, got ${JSON.stringify(v)}`,
      );
  }
  for (const key of [
    'host',
    'bundle',
    'catalog',
    'adminToken',
    'clientToken',
    'eventLog',
    'pseudonymKey',
    'logLevel',
  ] as const) {
    const v = c[key];
    if (v !== undefined && (typeof v !== 'string' || v === ''))
      throw new VitrineError(
        'invalid_argument',
        `config ${key}: expected a non-empty string, got ${JSON.stringify(v)}`,
      );
  }
  if (!LOG_LEVELS.includes(c.logLevel))
    throw new VitrineError(
      'invalid_argument',
      `config logLevel: expected one of ${LOG_LEVELS.join(', ')}, got ${c.logLevel}`,
    );
  if (!['fsync', 'none'].includes(c.eventLogSync))
    throw new VitrineError(
      'invalid_argument',
      `config eventLogSync: expected fsync or none, got ${String(c.eventLogSync)}`,
    );
  if (!['wall', 'bundle'].includes(c.clock))
    throw new VitrineError('invalid_argument', `config clock: expected wall or bundle, got ${c.clock}`);
  if (!['auto', 'cpu', 'cuda'].includes(c.provider))
    throw new VitrineError('invalid_argument', `config provider: expected auto, cpu or cuda, got ${c.provider}`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
