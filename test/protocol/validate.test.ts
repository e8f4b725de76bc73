import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/protocol/calls.js';
import { parseRequest } from '../../src/protocol/validate.js';
import { VitrineError } from '../../src/protocol/errors.js';

const parse = (raw: unknown) => parseRequest(raw, DEFAULT_LIMITS);
function codeOf(raw: unknown): [string, string | undefined] {
  try {
    parse(raw);
  } catch (e) {
    if (e instanceof VitrineError) return [e.code, e.field];
    throw e;
  }
  return ['ok', undefined];
}

describe('request validation', () => {
  it('fills defaults and keeps what the client asked for', () => {
    const r = parse({ id: 'a', call: 'recommend', user: 'u1' });
    expect(r).toEqual({
      id: 'a',
      call: {
        call: 'recommend',
        user: 'u1',
        history: undefined,
        k: 10,
        filters: { excludeSeen: true, availableOnly: true },
        diversity: 0,
        explain: true,
        candidates: undefined,
        ranking: 'ranker',
      },
    });
    const h = parse({
      id: 2,
      call: 'recommend',
      history: ['i1', { item: 'i2', type: 'cart', ts: 1700000000 }],
      k: 3,
      filters: { category: 'Shoes', priceMax: 9 },
    });
    expect(h.call).toMatchObject({
      history: [{ item: 'i1' }, { item: 'i2', type: 'cart', ts: 1700000000 }],
      filters: { categories: ['Shoes'], priceMax: 9 },
    });
    // null is "not given" for candidates too: the bundle's own retrieval depth, not a default of 200.
    expect(parseRequest({ id: 1, call: 'recommend', user: 'u', candidates: null }, DEFAULT_LIMITS).call).toMatchObject({
      candidates: undefined,
    });
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
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', ranking: 'best' })).toEqual(['invalid_field', 'ranking']);
    expect(codeOf({ id: 1, call: 'recommend', history: new Array(501).fill('i') })).toEqual([
      'invalid_field',
      'history',
    ]);
    expect(codeOf({ id: 1, call: 'recommend', history: [{ type: 'view' }] })).toEqual([
      'invalid_field',
      'history[0].item',
    ]);
    expect(codeOf({ id: 1, call: 'recommend', history: ['i1', { item: 'i2', ts: 'x' }] })).toEqual([
      'invalid_field',
      'history[1].ts',
    ]);
    expect(codeOf({ id: 1, call: 'recommend', history: [{ item: 'i1', type: 3 }] })).toEqual([
      'invalid_field',
      'history[0].type',
    ]);
    expect(codeOf({ id: 1, call: 'similar', item: { category: 'x' } })).toEqual(['invalid_field', 'item.id']);
    expect(codeOf({ id: 1, call: 'similar', item: { id: 'n', price: 'x' } })).toEqual(['invalid_field', 'item.price']);
    // Misspelt or unknown keys are refused by path, not ignored: a dropped `filter` would return unfiltered items.
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', filter: { category: 'Shoes' } })).toEqual([
      'invalid_field',
      'filter',
    ]);
    expect(codeOf({ id: 1, call: 'profile', user: 'u', k: 5 })).toEqual(['invalid_field', 'k']);
    expect(codeOf({ id: 1, call: 'recommend', history: [{ item: 'i1', qty: 2 }] })).toEqual([
      'invalid_field',
      'history[0].qty',
    ]);
    expect(codeOf({ id: 1, call: 'similar', item: { id: 'n', colour: 'red' } })).toEqual([
      'invalid_field',
      'item.colour',
    ]);
    expect(codeOf({ id: 1, call: 'score', user: 'u', items: [{ id: 'i1' }] })).toEqual(['invalid_field', 'items[0]']);
    expect(codeOf({ id: 1, call: 'boughtTogether', item: 'i1', items: ['i2'] })).toEqual(['invalid_field', 'item']);
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', filters: { exclude: [1] } })).toEqual([
      'invalid_field',
      'filters.exclude[0]',
    ]);
    // Nested fields are named by their full path, whatever the problem.
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', filters: { priceMin: 'cheap' } })).toEqual([
      'invalid_field',
      'filters.priceMin',
    ]);
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', filters: { priceMax: -1 } })).toEqual([
      'invalid_field',
      'filters.priceMax',
    ]);
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', filters: { excludeSeen: 'no' } })).toEqual([
      'invalid_field',
      'filters.excludeSeen',
    ]);
    expect(codeOf({ id: 1, call: 'similar' })).toEqual(['invalid_field', 'item']);
    expect(codeOf({ id: 1, call: 'score', user: 'u', items: new Array(1001).fill('i') })).toEqual([
      'invalid_field',
      'items',
    ]);
    expect(codeOf({ id: 1, call: 'event', user: 'u', item: 'i' })).toEqual(['invalid_field', 'type']);
    expect(codeOf({ id: 1, call: 'event', user: 'u', item: 'i', type: 'view', ts: 'yesterday' })).toEqual([
      'invalid_field',
      'ts',
    ]);
    expect(codeOf({ id: 1, call: 'recommend', user: 'x'.repeat(300) })).toEqual(['invalid_field', 'user']);
    // An unknown key is named, but not echoed whole: a huge key must not make a huge reply.
    expect(codeOf({ id: 1, call: 'recommend', user: 'u', ['k'.repeat(100_000)]: 1 })).toEqual([
      'invalid_field',
      `${'k'.repeat(64)}…`,
    ]);
    // Bounds that keep a shopper's spend finite, and times in seconds.
    expect(codeOf({ id: 1, call: 'event', user: 'u', item: 'i', type: 'purchase', price: 1e308 })).toEqual([
      'invalid_field',
      'price',
    ]);
    expect(codeOf({ id: 1, call: 'event', user: 'u', item: 'i', type: 'purchase', quantity: 1e308 })).toEqual([
      'invalid_field',
      'quantity',
    ]);
    expect(() => parse({ id: 1, call: 'event', user: 'u', item: 'i', type: 'view', ts: 1_700_000_000_000 })).toThrow(
      /ts: must be Unix time in seconds .*milliseconds\?/,
    );
  });

  it('takes times up to a bounded clock skew ahead of the wall clock, and no further (an event dated 2099 was held forever)', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(parse({ id: 1, call: 'event', user: 'u', item: 'i', type: 'view', ts: now + 250 }).call).toMatchObject({
      ts: now + 250,
    });
    expect(codeOf({ id: 1, call: 'event', user: 'u', item: 'i', type: 'view', ts: 4_070_908_800 })).toEqual([
      'invalid_field',
      'ts',
    ]);
    expect(() => parse({ id: 1, call: 'event', user: 'u', item: 'i', type: 'view', ts: now + 3600 })).toThrow(
      /ts: is \S+, more than 300 s ahead of this server's clock/,
    );
    expect(codeOf({ id: 1, call: 'recommend', history: [{ item: 'i', ts: now + 86400 }] })).toEqual([
      'invalid_field',
      'history[0].ts',
    ]);
    const lenient = { ...DEFAULT_LIMITS, maxFutureSeconds: 7200 };
    expect(
      parseRequest({ id: 1, call: 'event', user: 'u', item: 'i', type: 'view', ts: now + 3600 }, lenient).call,
    ).toMatchObject({ ts: now + 3600 });
  });

  it('takes the call from the URL over HTTP, where the id is optional and a body naming another call is refused', () => {
    expect(parseRequest({ id: null, user: 'u' }, DEFAULT_LIMITS, 'profile')).toEqual({
      id: null,
      call: { call: 'profile', user: 'u', history: undefined },
    });
    expect(parseRequest({ call: 'profile', user: 'u' }, DEFAULT_LIMITS, 'profile').id).toBeNull();
    expect(() => parseRequest({ call: 'similar', user: 'u' }, DEFAULT_LIMITS, 'profile')).toThrow(
      /call: the body names "similar" but the URL names "profile"/,
    );
  });
});
