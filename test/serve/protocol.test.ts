import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/serve/config.js';
import { DEFAULT_LIMITS, parseRequest, RequestError } from '../../src/serve/protocol.js';
import { tempDir } from '../helpers/paths.js';

const parse = (raw: unknown) => parseRequest(raw, DEFAULT_LIMITS);
function codeOf(raw: unknown): [string, string | undefined] {
  try {
    parse(raw);
  } catch (e) {
    if (e instanceof RequestError) return [e.code, e.field];
    throw e;
  }
  return ['ok', undefined];
}

describe('request validation', () => {
  it('fills defaults and keeps what the client asked for', () => {
    const r = parse({ id: 'a', call: 'recommend', user: 'u1' });
    expect(r).toEqual({ id: 'a', call: { call: 'recommend', user: 'u1', history: undefined, k: 10, filters: { excludeSeen: true, availableOnly: true }, diversity: 0, explain: true, candidates: undefined } });
    const h = parse({ id: 2, call: 'recommend', history: ['i1', { item: 'i2', type: 'cart', ts: 1700000000 }], k: 3, filters: { category: 'Shoes', priceMax: 9 } });
    expect(h.call).toMatchObject({ history: [{ item: 'i1' }, { item: 'i2', type: 'cart', ts: 1700000000 }], filters: { categories: ['Shoes'], priceMax: 9 } });
    // null is "not given" for candidates too: the bundle's own retrieval depth, not a default of 200.
    expect(parseRequest({ id: 1, call: 'recommend', user: 'u', candidates: null }, DEFAULT_LIMITS).call).toMatchObject({ candidates: undefined });
  });

  it('names the field and the problem for every kind of bad input', () => {
    expect(codeOf('hello')).toEqual(['bad_request', undefined]);
    expect(codeOf({ call: 'recommend', user: 'u' })).toEqual(['bad_request', 'id']);
    expect(codeOf({ id: {}, call: 'recommend', user: 'u' })).toEqual(['bad_request', 'id']);
    expect(codeOf({ id: 1, call: 'nope' })).toEqual(['unknown_call', 'call']);
    expect(codeOf({ id: 1, call: 'recommend' })).toEqual(['invalid_field', 'user']);
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', k: 0 })).toEqual(['invalid_field', 'k']);
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', k: 2.5 })).toEqual(['invalid_field', 'k']);
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', candidates: 1e6 })).toEqual(['invalid_field', 'candidates']);
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', diversity: 2 })).toEqual(['invalid_field', 'diversity']);
    expect(codeOf({ id: 1, call: 'recommend', history: new Array(501).fill('i') })).toEqual(['invalid_field', 'history']);
    expect(codeOf({ id: 1, call: 'recommend', history: [{ type: 'view' }] })).toEqual(['invalid_field', 'history[0].item']);
    expect(codeOf({ id: 1, call: 'recommend', history: ['i1', { item: 'i2', ts: 'x' }] })).toEqual(['invalid_field', 'history[1].ts']);
    expect(codeOf({ id: 1, call: 'recommend', history: [{ item: 'i1', type: 3 }] })).toEqual(['invalid_field', 'history[0].type']);
    expect(codeOf({ id: 1, call: 'similar', item: { category: 'x' } })).toEqual(['invalid_field', 'item.id']);
    expect(codeOf({ id: 1, call: 'similar', item: { id: 'n', price: 'x' } })).toEqual(['invalid_field', 'item.price']);
    // Misspelt or unknown keys are refused by path, not ignored: a dropped `filter` would return unfiltered items.
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', filter: { category: 'Shoes' } })).toEqual(['invalid_field', 'filter']);
    expect(codeOf({ id: 1, call: 'profile', user: 'u', k: 5 })).toEqual(['invalid_field', 'k']);
    expect(codeOf({ id: 1, call: 'recommend', history: [{ item: 'i1', qty: 2 }] })).toEqual(['invalid_field', 'history[0].qty']);
    expect(codeOf({ id: 1, call: 'similar', item: { id: 'n', colour: 'red' } })).toEqual(['invalid_field', 'item.colour']);
    expect(codeOf({ id: 1, call: 'score', user: 'u', items: [{ id: 'i1' }] })).toEqual(['invalid_field', 'items[0]']);
    expect(codeOf({ id: 1, call: 'boughtTogether', item: 'i1', items: ['i2'] })).toEqual(['invalid_field', 'item']);
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', filters: { exclude: [1] } })).toEqual(['invalid_field', 'filters.exclude[0]']);
    // Nested fields are named by their full path, whatever the problem.
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', filters: { priceMin: 'cheap' } })).toEqual(['invalid_field', 'filters.priceMin']);
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', filters: { priceMax: -1 } })).toEqual(['invalid_field', 'filters.priceMax']);
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', filters: { excludeSeen: 'no' } })).toEqual(['invalid_field', 'filters.excludeSeen']);
    expect(codeOf({ id: 1, call: 'similar' })).toEqual(['invalid_field', 'item']);
    expect(codeOf({ id: 1, call: 'score', user: 'u', items: new Array(1001).fill('i') })).toEqual(['invalid_field', 'items']);
    expect(codeOf({ id: 1, call: 'event', user: 'u', item: 'i' })).toEqual(['invalid_field', 'type']);
    expect(codeOf({ id: 1, call: 'event', user: 'u', item: 'i', type: 'view', ts: 'yesterday' })).toEqual(['invalid_field', 'ts']);
    expect(codeOf({ id: 1, call: 'recommend', user: 'x'.repeat(300) })).toEqual(['invalid_field', 'user']);
    // An unknown key is named, but not echoed whole: a huge key must not make a huge reply.
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', ['k'.repeat(100_000)]: 1 })).toEqual(['invalid_field', `${'k'.repeat(64)}…`]);
    // Bounds that keep a shopper's spend finite, and times in seconds.
    expect(codeOf({ id: 1, call: 'event', user: 'u', item: 'i', type: 'purchase', price: 1e308 })).toEqual(['invalid_field', 'price']);
    expect(codeOf({ id: 1, call: 'event', user: 'u', item: 'i', type: 'purchase', quantity: 1e308 })).toEqual(['invalid_field', 'quantity']);
    expect(() => parse({ id: 1, call: 'event', user: 'u', item: 'i', type: 'view', ts: 1_700_000_000_000 })).toThrow(/ts: must be Unix time in seconds .*milliseconds\?/);
  });

  it('takes the call from the URL over HTTP, where the id is optional and a body naming another call is refused', () => {
    expect(parseRequest({ id: null, user: 'u' }, DEFAULT_LIMITS, 'profile')).toEqual({ id: null, call: { call: 'profile', user: 'u', history: undefined } });
    expect(parseRequest({ call: 'profile', user: 'u' }, DEFAULT_LIMITS, 'profile').id).toBeNull();
    expect(() => parseRequest({ call: 'similar', user: 'u' }, DEFAULT_LIMITS, 'profile')).toThrow(/call: the body names "similar" but the URL names "profile"/);
  });
});

describe('server configuration', () => {
  it('layers defaults, file, environment and flags, and rejects bad values by name', () => {
    const c = loadConfig('models/x', undefined, { port: 9000 }, { VITRINE_WORKERS: '3', VITRINE_CLOCK: 'bundle' });
    expect(c).toMatchObject({ bundle: 'models/x', port: 9000, workers: 3, maxQueue: 768, clock: 'bundle', host: '127.0.0.1' });
    expect(() => loadConfig('m', undefined, { port: 70000 })).toThrow(/config port: expected an integer between 0 and 65535/);
    expect(() => loadConfig('m', undefined, {}, { VITRINE_WORKERS: 'many' })).toThrow(/VITRINE_WORKERS: expected a number, got "many"/);
    expect(() => loadConfig('m', undefined, {}, { VITRINE_WORKERS: '2.5' })).toThrow(/config workers: expected an integer between 1 and 256, got 2.5/);
    expect(loadConfig('m', undefined, {}, {}).eventLogSync).toBe('fsync');
    expect(loadConfig('m', undefined, {}, { VITRINE_EVENT_LOG_SYNC: 'none' }).eventLogSync).toBe('none');
    expect(() => loadConfig('m', undefined, {}, { VITRINE_EVENT_LOG_SYNC: 'sometimes' })).toThrow(/config eventLogSync: expected fsync or none, got sometimes/);
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
    const good = file('good.json', { bundle: 'models/from-file', port: 9100, workers: 2, logLevel: 'warn', limits: { maxK: 50 } });
    const c = loadConfig(undefined, good, {}, { VITRINE_PORT: '9200' });
    // The file sets what the environment does not; the environment wins where both do; a flag wins over both.
    expect(c).toMatchObject({ bundle: 'models/from-file', port: 9200, workers: 2, maxQueue: 512, logLevel: 'warn', limits: { ...DEFAULT_LIMITS, maxK: 50 } });
    expect(loadConfig(undefined, good, { port: 9300 }, { VITRINE_PORT: '9200' }).port).toBe(9300);
    // The file's limit is what requests are held to.
    expect(() => parseRequest({ id: 1, call: 'recommend', user: 'u1', k: 51 }, c.limits)).toThrow(/between 1 and 50/);
    // null and "" mean "not set", as an absent key does (an empty eventLog: events in memory only).
    const unset = loadConfig('m', file('unset.json', { efSearch: null, eventLog: '', limits: null }), { catalog: '' }, {});
    expect([unset.efSearch, unset.eventLog, unset.catalog, unset.limits]).toEqual([undefined, undefined, undefined, DEFAULT_LIMITS]);
    expect(loadConfig('m', file('unset-limit.json', { limits: { maxK: null, maxBasket: 7 } }), {}, {}).limits).toEqual({ ...DEFAULT_LIMITS, maxBasket: 7 });
    expect(() => loadConfig('m', file('typo.json', { prot: 9000 }), {}, {})).toThrow(/typo\.json: unknown setting "prot"/);
    expect(() => loadConfig('m', file('limit.json', { limits: { maxK: 'lots' } }), {}, {})).toThrow(/config limits\.maxK: expected an integer between 1 and 10000, got "lots"/);
    expect(() => loadConfig('m', file('limit2.json', { limits: { maxKK: 5 } }), {}, {})).toThrow(/unknown limit "limits\.maxKK"/);
    expect(() => loadConfig('m', file('array.json', [1, 2]), {}, {})).toThrow(/expected a JSON object of settings/);
    expect(() => loadConfig('m', file('level.json', { logLevel: 'loud' }), {}, {})).toThrow(/config logLevel: expected one of/);
    expect(() => loadConfig('m', file('host.json', { host: 42 }), {}, {})).toThrow(/config host: expected a non-empty string, got 42/);
  });
});
