import { readFileSync } from 'node:fs';
import { DEFAULT_LIMITS } from '../../protocol/calls.js';
import { VitrineError } from '../../protocol/errors.js';
import { defaultConfig, type ServerConfig } from './types.js';
import { validateConfig } from './validate.js';

/** The VITRINE_* variable of each setting that has one. */
export const ENV: Record<string, keyof ServerConfig> = {
  VITRINE_HOST: 'host',
  VITRINE_PORT: 'port',
  VITRINE_BUNDLE: 'bundle',
  VITRINE_CATALOG: 'catalog',
  VITRINE_WORKERS: 'workers',
  VITRINE_TASKS_PER_WORKER: 'concurrentTasksPerWorker',
  VITRINE_MAX_QUEUE: 'maxQueue',
  VITRINE_MAX_BATCH: 'maxBatch',
  VITRINE_MAX_IN_FLIGHT: 'maxInFlightPerConnection',
  VITRINE_QUEUE_DEADLINE_MS: 'queueDeadlineMs',
  VITRINE_OVERLOAD_DEADLINE_MS: 'overloadDeadlineMs',
  VITRINE_INLINE_BELOW: 'inlineBelow',
  VITRINE_MAX_CONNECTIONS: 'maxConnections',
  VITRINE_MAX_UNREAD_REPLY_MIB: 'maxUnreadReplyMiB',
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
  VITRINE_CORS_ORIGINS: 'corsOrigins',
  VITRINE_STORE: 'store',
  VITRINE_STORE_TIMEOUT_MS: 'storeTimeoutMs',
  VITRINE_STORE_USER_TTL_DAYS: 'storeUserTtlDays',
  VITRINE_PROBE_PORT: 'probePort',
  VITRINE_PROMOTIONS: 'promotions',
  VITRINE_ATTRIBUTION_HOURS: 'attributionHours',
  VITRINE_PROMOTION_EXPLORATION: 'promotionExploration',
  VITRINE_EXPERIMENTS: 'experiments',
  VITRINE_EXPERIMENT_WORKERS: 'experimentWorkers',
};

/** Settings given in the environment as a comma-separated list. */
const LISTS = new Set<keyof ServerConfig>(['corsOrigins']);

const NUMERIC = new Set<keyof ServerConfig>([
  'port',
  'workers',
  'concurrentTasksPerWorker',
  'maxBatch',
  'maxQueue',
  'maxInFlightPerConnection',
  'queueDeadlineMs',
  'overloadDeadlineMs',
  'inlineBelow',
  'maxConnections',
  'maxUnreadReplyMiB',
  'maxFrameBytes',
  'efSearch',
  'drainSeconds',
  'maxStreamedUsers',
  'maxStreamedMemoryMiB',
  'probePort',
  'storeTimeoutMs',
  'storeUserTtlDays',
  'attributionHours',
  'promotionExploration',
  'experimentWorkers',
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
    fromEnv[key] = NUMERIC.has(key)
      ? Number(v)
      : LISTS.has(key)
        ? v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : v;
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
    'corsOrigins',
    'probePort',
    'store',
    'promotions',
    'experiments',
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
