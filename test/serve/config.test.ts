import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/protocol/calls.js';
import { parseRequest } from '../../src/protocol/validate.js';
import { loadConfig } from '../../src/serve/config/index.js';
import { tempDir } from '../helpers/paths.js';

describe('server configuration', () => {
  it('layers defaults, file, environment and flags, and rejects bad values by name', () => {
    const c = loadConfig('models/x', undefined, { port: 9000 }, { VITRINE_WORKERS: '3', VITRINE_CLOCK: 'bundle' });
    expect(c).toMatchObject({
      bundle: 'models/x',
      port: 9000,
      workers: 3,
      maxQueue: 768,
      clock: 'bundle',
      host: '127.0.0.1',
    });
    expect(() => loadConfig('m', undefined, { port: 70000 })).toThrow(
      /config port: expected an integer between 0 and 65535/,
    );
    expect(() => loadConfig('m', undefined, {}, { VITRINE_WORKERS: 'many' })).toThrow(
      /VITRINE_WORKERS: expected a number, got "many"/,
    );
    expect(() => loadConfig('m', undefined, {}, { VITRINE_WORKERS: '2.5' })).toThrow(
      /config workers: expected an integer between 1 and 256, got 2.5/,
    );
    expect(loadConfig('m', undefined, {}, {})).toMatchObject({ queueDeadlineMs: 50, overloadDeadlineMs: 5 });
    expect(loadConfig('m', undefined, {}, { VITRINE_OVERLOAD_DEADLINE_MS: '20' }).overloadDeadlineMs).toBe(20);
    expect(() => loadConfig('m', undefined, { overloadDeadlineMs: 0 })).toThrow(
      /config overloadDeadlineMs: expected an integer between 1 and 60000, got 0/,
    );
    expect(loadConfig('m', undefined, {}, {}).eventLogSync).toBe('fsync');
    expect(loadConfig('m', undefined, {}, { VITRINE_EVENT_LOG_SYNC: 'none' }).eventLogSync).toBe('none');
    expect(() => loadConfig('m', undefined, {}, { VITRINE_EVENT_LOG_SYNC: 'sometimes' })).toThrow(
      /config eventLogSync: expected fsync or none, got sometimes/,
    );
    expect(() => loadConfig(undefined, undefined, {}, {})).toThrow(/--bundle is required/);
    expect(() => loadConfig('m', '/no/such/config.json', {})).toThrow(/--config \/no\/such\/config\.json/);
  });

  it('reads a config file between the defaults and the environment, refusing unknown settings and bad limits', () => {
    const dir = tempDir();
    const file = (name: string, body: unknown): string => {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify(body));
      return path;
    };
    const good = file('good.json', {
      bundle: 'models/from-file',
      port: 9100,
      workers: 2,
      logLevel: 'warn',
      limits: { maxK: 50 },
    });
    const c = loadConfig(undefined, good, {}, { VITRINE_PORT: '9200' });
    // The file sets what the environment does not; the environment wins where both do; a flag wins over both.
    expect(c).toMatchObject({
      bundle: 'models/from-file',
      port: 9200,
      workers: 2,
      maxQueue: 512,
      logLevel: 'warn',
      limits: { ...DEFAULT_LIMITS, maxK: 50 },
    });
    expect(loadConfig(undefined, good, { port: 9300 }, { VITRINE_PORT: '9200' }).port).toBe(9300);
    // The file's limit is what requests are held to.
    expect(() => parseRequest({ id: 1, call: 'recommend', user: 'u1', k: 51 }, c.limits)).toThrow(/between 1 and 50/);
    // null and "" mean "not set", as an absent key does (an empty eventLog: events in memory only).
    const unset = loadConfig(
      'm',
      file('unset.json', { efSearch: null, eventLog: '', limits: null }),
      { catalog: '' },
      {},
    );
    expect([unset.efSearch, unset.eventLog, unset.catalog, unset.limits]).toEqual([
      undefined,
      undefined,
      undefined,
      DEFAULT_LIMITS,
    ]);
    expect(loadConfig('m', file('unset-limit.json', { limits: { maxK: null, maxBasket: 7 } }), {}, {}).limits).toEqual({
      ...DEFAULT_LIMITS,
      maxBasket: 7,
    });
    expect(() => loadConfig('m', file('typo.json', { prot: 9000 }), {}, {})).toThrow(
      /typo\.json: unknown setting "prot"/,
    );
    expect(() => loadConfig('m', file('limit.json', { limits: { maxK: 'lots' } }), {}, {})).toThrow(
      /config limits\.maxK: expected an integer between 1 and 10000, got "lots"/,
    );
    expect(() => loadConfig('m', file('limit2.json', { limits: { maxKK: 5 } }), {}, {})).toThrow(
      /unknown limit "limits\.maxKK"/,
    );
    expect(() => loadConfig('m', file('array.json', [1, 2]), {}, {})).toThrow(/expected a JSON object of settings/);
    expect(() => loadConfig('m', file('level.json', { logLevel: 'loud' }), {}, {})).toThrow(
      /config logLevel: expected one of/,
    );
    expect(() => loadConfig('m', file('host.json', { host: 42 }), {}, {})).toThrow(
      /config host: expected a non-empty string, got 42/,
    );
  });
});
