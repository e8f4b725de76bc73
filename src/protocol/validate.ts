/**
 * Validation of requests as clients send them (WebSocket msgpack/JSON frames, HTTP JSON bodies) into
 * typed calls. It runs on the main thread; workers only ever see well-formed calls. Every refusal
 * names the field by its path and says what is wrong with it.
 */
import {
  CALLS,
  type Call,
  type CallName,
  type BasketLine,
  EVENT_TYPES,
  RANKINGS,
  type Ranking,
  type EventType,
  PROMOTION_EVENT_TYPES,
  type PromotionEventType,
  type Filters,
  DEFAULT_FILTERS,
  type HistoryEntry,
  type ItemDescription,
  type Limits,
  type Request,
  type RequestId,
} from './calls.js';
import { VitrineError } from './errors.js';
import { bool, fail, int, isObj, num, type Obj, onlyKnown, str, strList, timestamp, typeOf } from './fields.js';

/** Bounds that keep a user's spend (price × quantity, summed) finite and meaningful. */
const MAX_PRICE = 1e9;
const MAX_QUANTITY = 1e6;

/** The fields each call takes besides `id` and `call`: anything else is a misspelling, refused rather than ignored. */
const CALL_FIELDS: Record<CallName, readonly string[]> = {
  recommend: ['user', 'history', 'k', 'filters', 'diversity', 'explain', 'candidates', 'ranking'],
  similar: ['item', 'k', 'filters'],
  boughtTogether: ['items', 'item', 'k', 'filters'],
  score: ['user', 'history', 'items', 'candidates'],
  profile: ['user', 'history'],
  event: ['user', 'item', 'type', 'ts', 'price', 'quantity', 'decision'],
  promotion: ['user', 'history', 'basket', 'k'],
};
/** Offers one promotion call may return. */
const MAX_PROMOTIONS_SHOWN = 5;
const FILTER_FIELDS = ['category', 'priceMin', 'priceMax', 'exclude', 'excludeSeen', 'onlySeen', 'availableOnly'];
const HISTORY_FIELDS = ['item', 'type', 'ts'];
const ITEM_FIELDS = ['id', 'category', 'brand', 'price', 'attributes'];

function filters(o: Obj, limits: Limits): Filters {
  const f = o.filters;
  if (f === undefined || f === null) return { ...DEFAULT_FILTERS };
  if (!isObj(f)) fail('filters', `must be an object, got ${typeOf(f)}`);
  const out: Filters = {
    categories: strList(f, 'category', 100, 'filters.category'),
    priceMin: num(f, 'priceMin', 0, Infinity, 'filters.priceMin'),
    priceMax: num(f, 'priceMax', 0, Infinity, 'filters.priceMax'),
    exclude: strList(f, 'exclude', limits.maxScoreItems, 'filters.exclude'),
    excludeSeen: bool(f, 'excludeSeen', true, 'filters.excludeSeen'),
    availableOnly: bool(f, 'availableOnly', true, 'filters.availableOnly'),
  };
  if (bool(f, 'onlySeen', false, 'filters.onlySeen')) {
    if (f.excludeSeen === true)
      fail('filters.onlySeen', 'asks for only the items filters.excludeSeen (true) removes; leave excludeSeen out');
    out.onlySeen = true;
    out.excludeSeen = false;
  }
  if (out.priceMin !== undefined && out.priceMax !== undefined && out.priceMin > out.priceMax)
    fail('filters.priceMin', `(${out.priceMin}) is above filters.priceMax (${out.priceMax})`);
  onlyKnown(f, FILTER_FIELDS, 'filters.', 'a known filter');
  return out;
}

/** Filters of a call about items, not a shopper: there are no own items to list. */
function itemFilters(o: Obj, limits: Limits, call: string): Filters {
  const f = filters(o, limits);
  if (f.onlySeen) fail('filters.onlySeen', `lists a shopper's own items; ${call} has no shopper`);
  return f;
}

function history(o: Obj, limits: Limits): HistoryEntry[] | undefined {
  const h = o.history;
  if (h === undefined || h === null) return undefined;
  if (!Array.isArray(h)) fail('history', `must be an array of item ids or {item, type, ts} objects, got ${typeOf(h)}`);
  if (h.length > limits.maxHistory) fail('history', `has ${h.length} entries; at most ${limits.maxHistory}`);
  return h.map((e, i) => {
    if (typeof e === 'string' && e.length > 0 && e.length <= 256) return { item: e };
    const at = `history[${i}]`;
    if (!isObj(e)) fail(at, 'must be an item id or an object {item, type?, ts?}');
    onlyKnown(e, HISTORY_FIELDS, `${at}.`, 'a field of a history entry');
    const type = str(e, 'type', false, 16, `${at}.type`);
    if (type !== undefined && !(EVENT_TYPES as readonly string[]).includes(type))
      fail(`${at}.type`, `must be one of ${EVENT_TYPES.join(', ')}`);
    return { item: str(e, 'item', true, 256, `${at}.item`), type, ts: timestamp(e, `${at}.ts`, limits) };
  });
}

function itemDescription(v: Obj, field: string): ItemDescription {
  onlyKnown(v, ITEM_FIELDS, `${field}.`, 'a field of an item description');
  return {
    id: str(v, 'id', true, 256, `${field}.id`),
    category: str(v, 'category', false, 256, `${field}.category`),
    brand: str(v, 'brand', false, 256, `${field}.brand`),
    price: num(v, 'price', 0, MAX_PRICE, `${field}.price`),
    attributes: strList(v, 'attributes', 64, `${field}.attributes`),
  };
}

/** `event`: an interaction with an item, or the outcome of a promotion decision (which names the decision). */
function eventCall(o: Obj, limits: Limits): Call {
  const type = str(o, 'type', true, 16);
  const types = [...EVENT_TYPES, ...PROMOTION_EVENT_TYPES];
  if (!(types as readonly string[]).includes(type)) fail('type', `must be one of ${types.join(', ')}`);
  if ((PROMOTION_EVENT_TYPES as readonly string[]).includes(type)) {
    if (o.item !== undefined && o.item !== null) fail('item', `${type} names the decision it follows, not an item`);
    if (o.quantity !== undefined && o.quantity !== null) fail('quantity', `${type} takes no quantity`);
    return {
      call: 'event',
      user: str(o, 'user', true),
      type: type as PromotionEventType,
      decision: str(o, 'decision', true, 64),
      ts: timestamp(o, 'ts', limits),
      price: num(o, 'price', 0, MAX_PRICE),
    };
  }
  if (o.decision !== undefined && o.decision !== null)
    fail('decision', `only ${PROMOTION_EVENT_TYPES.join(' and ')} events name a decision`);
  return {
    call: 'event',
    user: str(o, 'user', true),
    item: str(o, 'item', true),
    type: type as EventType,
    ts: timestamp(o, 'ts', limits),
    price: num(o, 'price', 0, MAX_PRICE),
    quantity: num(o, 'quantity', 0, MAX_QUANTITY),
  };
}

/** A basket: item ids, or {item, price?, quantity?} lines. */
function basket(o: Obj, limits: Limits): BasketLine[] | undefined {
  const b = o.basket;
  if (b === undefined || b === null) return undefined;
  if (!Array.isArray(b))
    fail('basket', `must be an array of item ids or {item, price, quantity} objects, got ${typeOf(b)}`);
  if (b.length > limits.maxBasket) fail('basket', `has ${b.length} entries; at most ${limits.maxBasket}`);
  return b.map((e, i) => {
    if (typeof e === 'string' && e.length > 0 && e.length <= 256) return { item: e, quantity: 1 };
    const at = `basket[${i}]`;
    if (!isObj(e)) fail(at, 'must be an item id or an object {item, price?, quantity?}');
    onlyKnown(e, ['item', 'price', 'quantity'], `${at}.`, 'a field of a basket line');
    return {
      item: str(e, 'item', true, 256, `${at}.item`),
      price: num(e, 'price', 0, MAX_PRICE, `${at}.price`),
      quantity: num(e, 'quantity', 1, MAX_QUANTITY, `${at}.quantity`) ?? 1,
    };
  });
}

function ranking(o: Obj): Ranking {
  const v = o.ranking;
  if (v === undefined || v === null) return 'ranker';
  if (!(RANKINGS as readonly unknown[]).includes(v))
    fail('ranking', `must be one of ${RANKINGS.join(', ')} (got ${JSON.stringify(v).slice(0, 64)})`);
  return v as Ranking;
}

/** Overrides the bundle's retrieval list length (recommend, and score to match it). */
function candidates(o: Obj, limits: Limits): number | undefined {
  // null means "not given" here as for every other field: the bundle's own candidate count.
  return o.candidates === undefined || o.candidates === null
    ? undefined
    : int(o, 'candidates', 200, 10, limits.maxCandidates);
}

/** Turns a decoded frame or HTTP body into a typed request, or throws a RequestError naming the field. */
export function parseRequest(raw: unknown, limits: Limits, callFromPath?: string): Request {
  if (!isObj(raw)) throw new VitrineError('bad_request', `expected an object with "id" and "call", got ${typeOf(raw)}`);
  const rawId = raw.id;
  let id: RequestId | null;
  if (typeof rawId === 'string' && rawId.length > 0 && rawId.length <= 128) id = rawId;
  else if (typeof rawId === 'number' && Number.isFinite(rawId)) id = rawId;
  else if (callFromPath !== undefined && (rawId === undefined || rawId === null)) id = null;
  else
    throw new VitrineError(
      'bad_request',
      '"id" is required: a string (at most 128 characters) or a number, echoed in the response',
      'id',
    );
  const name = callFromPath ?? raw.call;
  if (typeof name !== 'string') throw new VitrineError('bad_request', '"call" is required', 'call');
  if (!(CALLS as readonly string[]).includes(name))
    throw new VitrineError(
      'unknown_call',
      `unknown call "${name.slice(0, 64)}" (expected one of ${CALLS.join(', ')})`,
      'call',
    );
  if (callFromPath !== undefined && raw.call !== undefined && raw.call !== null && raw.call !== callFromPath)
    fail('call', `the body names ${JSON.stringify(raw.call).slice(0, 64)} but the URL names "${callFromPath}"`);
  onlyKnown(raw, ['id', 'call', ...CALL_FIELDS[name as CallName]], '', `a field of ${name}`);
  return { id, call: parseCall(name as CallName, raw, limits) };
}

function parseCall(name: CallName, o: Obj, limits: Limits): Call {
  switch (name) {
    case 'recommend': {
      const user = str(o, 'user', false);
      const hist = history(o, limits);
      if (user === undefined && hist === undefined)
        fail('user', "give a user id or a history (an anonymous shopper's recent items)");
      return {
        call: name,
        user,
        history: hist,
        k: int(o, 'k', 10, 1, limits.maxK),
        filters: filters(o, limits),
        diversity: num(o, 'diversity', 0, 1) ?? 0,
        explain: bool(o, 'explain', true),
        candidates: candidates(o, limits),
        ranking: ranking(o),
      };
    }
    case 'similar': {
      const item = o.item;
      let target: string | ItemDescription;
      if (typeof item === 'string') target = str(o, 'item', true);
      else if (isObj(item)) target = itemDescription(item, 'item');
      else
        fail(
          'item',
          'is required: an item id, or {id, category, brand, price, attributes} for an item the model has not seen',
        );
      return { call: name, item: target, k: int(o, 'k', 10, 1, limits.maxK), filters: itemFilters(o, limits, name) };
    }
    case 'boughtTogether': {
      if (o.items !== undefined && o.items !== null && o.item !== undefined && o.item !== null)
        fail('item', 'give either item or items (a basket), not both');
      const items = strList(o, 'items', limits.maxBasket) ?? strList(o, 'item', 1);
      if (!items || items.length === 0) fail('items', 'is required: an item id or a basket of item ids');
      return { call: name, items, k: int(o, 'k', 10, 1, limits.maxK), filters: itemFilters(o, limits, name) };
    }
    case 'score': {
      const user = str(o, 'user', false);
      const hist = history(o, limits);
      const raw = o.items;
      if (!Array.isArray(raw) || raw.length === 0)
        fail('items', 'is required: a non-empty array of candidate item ids');
      if (raw.length > limits.maxScoreItems)
        fail('items', `has ${raw.length} entries; at most ${limits.maxScoreItems}`);
      // Ids only: the ranker's item features (popularity, co-occurrence, ...) exist only for items the bundle learned from.
      const items = raw.map((v, i) => {
        if (typeof v === 'string' && v.length > 0 && v.length <= 256) return v;
        fail(
          `items[${i}]`,
          'must be an item id (a non-empty string of at most 256 characters); items the bundle has not learned from get null with the reason',
        );
      });
      // The retrieval list length recommend was called with: an item's rank features depend on it.
      return { call: name, user, history: hist, items, candidates: candidates(o, limits) };
    }
    case 'profile': {
      const user = str(o, 'user', false);
      const hist = history(o, limits);
      if (user === undefined && hist === undefined) fail('user', 'give a user id or a history');
      return { call: name, user, history: hist };
    }
    case 'promotion': {
      const user = str(o, 'user', false);
      const hist = history(o, limits);
      if (user === undefined && hist === undefined) fail('user', 'give a user id or a history');
      return { call: name, user, history: hist, basket: basket(o, limits), k: int(o, 'k', 1, 1, MAX_PROMOTIONS_SHOWN) };
    }
    case 'event':
      return eventCall(o, limits);
  }
}
