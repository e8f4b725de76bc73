import type { Limits } from '../../protocol/calls.js';
import { VitrineError } from '../../protocol/errors.js';
import type { ServerConfig } from './types.js';

/** Upper bounds of the request limits: past these a single request could exhaust a worker. */
const LIMIT_CEILINGS: Limits = {
  maxK: 10_000,
  maxCandidates: 100_000,
  maxHistory: 100_000,
  maxScoreItems: 100_000,
  maxBasket: 10_000,
  maxFutureSeconds: 31 * 86400,
};

/** The least each limit may be (a clock skew of 0 is allowed; a k of 0 is not). */
const LIMIT_FLOORS: Partial<Limits> = { maxFutureSeconds: 0 };

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
  int('queueDeadlineMs', 1, 60_000);
  int('overloadDeadlineMs', 1, 60_000);
  int('inlineBelow', 0, 1_000_000);
  int('maxConnections', 1, 1_000_000);
  int('maxUnreadReplyMiB', 1, 1 << 20);
  int('maxFrameBytes', 256, 64 << 20);
  int('drainSeconds', 0, 3600);
  int('maxStreamedUsers', 1, 100_000_000);
  int('maxStreamedMemoryMiB', 1, 1 << 20);
  if (c.efSearch !== undefined) int('efSearch', 10, 100_000);
  if (c.probePort !== undefined) int('probePort', 0, 65535);
  int('storeTimeoutMs', 10, 60_000);
  int('storeUserTtlDays', 1, 3650);
  int('attributionHours', 1, 24 * 90);
  int('experimentWorkers', 1, 256);
  if (!(typeof c.promotionExploration === 'number' && c.promotionExploration >= 0 && c.promotionExploration <= 1))
    throw new VitrineError(
      'invalid_argument',
      `config promotionExploration: expected a share between 0 and 1, got ${JSON.stringify(c.promotionExploration)}`,
    );
  if (c.corsOrigins !== undefined) {
    const bad = Array.isArray(c.corsOrigins)
      ? c.corsOrigins.find((o) => typeof o !== 'string' || !(o === '*' || /^https?:\/\/[^/\s]+$/.test(o)))
      : c.corsOrigins;
    if (bad !== undefined)
      throw new VitrineError(
        'invalid_argument',
        `config corsOrigins: expected a list of origins such as https://shop.example (or *), got ${JSON.stringify(bad)}`,
      );
  }
  validateLimits(c.limits);
  for (const key of [
    'host',
    'bundle',
    'catalog',
    'adminToken',
    'clientToken',
    'eventLog',
    'pseudonymKey',
    'logLevel',
    'store',
    'promotions',
    'experiments',
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

function validateLimits(limits: Limits): void {
  for (const [key, ceiling] of Object.entries(LIMIT_CEILINGS) as [keyof Limits, number][]) {
    const v = limits[key];
    const floor = LIMIT_FLOORS[key] ?? 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < floor || v > ceiling)
      throw new VitrineError(
        'invalid_argument',
        `config limits.${key}: expected an integer between ${floor} and ${ceiling}, got ${JSON.stringify(v)}`,
      );
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
