import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/serve/config.js';
import { DEFAULT_LIMITS, parseRequest, RequestError } from '../../src/serve/protocol.js';

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
    expect(codeOf({ id: 1, call: 'recommend', history: [{ type: 'view' }] })).toEqual(['invalid_field', 'item']);
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', filters: { exclude: [1] } })).toEqual(['invalid_field', 'filters.exclude[0]']);
    expect(codeOf({ id: 1, call: 'similar' })).toEqual(['invalid_field', 'item']);
    expect(codeOf({ id: 1, call: 'score', user: 'u', items: new Array(1001).fill('i') })).toEqual(['invalid_field', 'items']);
    expect(codeOf({ id: 1, call: 'event', user: 'u', item: 'i' })).toEqual(['invalid_field', 'type']);
    expect(codeOf({ id: 1, call: 'event', user: 'u', item: 'i', type: 'view', ts: 'yesterday' })).toEqual(['invalid_field', 'ts']);
    expect(codeOf({ id: 1, call: 'recommend', user: 'x'.repeat(300) })).toEqual(['invalid_field', 'user']);
  });
});

describe('server configuration', () => {
  it('layers defaults, file, environment and flags, and rejects bad values by name', () => {
    const c = loadConfig('models/x', undefined, { port: 9000 }, { VITRINE_WORKERS: '3', VITRINE_CLOCK: 'bundle' });
    expect(c).toMatchObject({ bundle: 'models/x', port: 9000, workers: 3, maxQueue: 768, clock: 'bundle', host: '127.0.0.1' });
    expect(() => loadConfig('m', undefined, { port: 70000 })).toThrow(/config port: expected an integer between 0 and 65535/);
    expect(() => loadConfig('m', undefined, {}, { VITRINE_WORKERS: 'many' })).toThrow(/config workers/);
    expect(loadConfig('m', undefined, {}, {}).eventLogSync).toBe('fsync');
    expect(loadConfig('m', undefined, {}, { VITRINE_EVENT_LOG_SYNC: 'none' }).eventLogSync).toBe('none');
    expect(() => loadConfig('m', undefined, {}, { VITRINE_EVENT_LOG_SYNC: 'sometimes' })).toThrow(/config eventLogSync: expected fsync or none, got sometimes/);
    expect(() => loadConfig(undefined, undefined, {}, {})).toThrow(/--bundle is required/);
    expect(() => loadConfig('m', '/no/such/config.json', {})).toThrow(/--config \/no\/such\/config\.json/);
  });
});
