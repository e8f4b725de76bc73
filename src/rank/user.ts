import { emptyHistory, historyOf, type UserHistory } from '../data/history.js';
import { itemsOf } from '../data/interactions.js';
import type { UserAttributes } from '../data/types.js';
import { EVENT_TYPES, type HistoryEntry, isNegativeType, type StreamedEvent } from '../protocol/calls.js';
import type { RecModel } from './model.js';

/** A shopper as a request sees them: the bundle's history merged with streamed events and the request's own history. */
export interface ResolvedUser {
  history: UserHistory;
  /** The stored vector, when the history is exactly the bundle's (else it is folded in on demand). */
  vector?: Float32Array;
  attrs?: UserAttributes;
  known: boolean;
  index: number;
  /** Ids in the request history or the streamed events that the catalogue does not know (ignored). */
  unknownItems: string[];
  /** How the shopper last touched a history item (view, purchase, ...), for explanations. */
  typeOf: (item: number) => string | undefined;
  /** Items the shopper disliked or returned: never recommended to them (NEGATIVE_EVENT_TYPES). */
  rejected: Int32Array;
}

/** What the state store holds of a request's shopper, and the request time. */
export interface UserContext {
  /** Streamed events of the request's user since the bundle was built, oldest first. */
  streamed?: StreamedEvent[];
  /** Items the shopper disliked or returned while served (outliving the streamed events' cap). */
  rejected?: string[];
  /** The shopper asked to be forgotten: the bundle's copy of their history is not used. */
  forgotten?: boolean;
  /** Request time, Unix seconds. */
  now: number;
}

/** Bundle history, plus streamed events and any history the request carries. */
export function resolveUser(
  m: RecModel,
  user: string | undefined,
  history: HistoryEntry[] | undefined,
  ctx: UserContext,
): ResolvedUser {
  const { streamed, now, forgotten = false } = ctx;
  // A forgotten shopper is a new one: the bundle's copy of their history is not theirs to use any more.
  const index = user !== undefined && !forgotten ? m.userIndex.indexOf(user) : -1;
  const base = index >= 0 ? historyOf(m.data.history.ui, m.data.history.totals, index) : emptyHistory();
  const attrs = index >= 0 ? m.data.users[index] : undefined;
  const extra: { item: string; type: string; ts: number; spend: number }[] = [];
  for (const e of streamed ?? [])
    extra.push({
      item: e.item,
      type: e.type,
      ts: e.ts,
      spend: e.type === 'purchase' && e.price !== undefined ? e.price * (e.quantity ?? 1) : 0,
    });
  // Entries without a time are taken as touched one second apart in list order, the last most
  // recently: all at `now` they would make one basket of the whole list.
  const n = history?.length ?? 0;
  (history ?? []).forEach((e, j) =>
    extra.push({ item: e.item, type: e.type ?? 'view', ts: e.ts ?? now - (n - 1 - j), spend: 0 }),
  );
  const lastType = new Map<number, string>();
  const typeOf = (i: number): string | undefined => lastType.get(i) ?? bundleType(m, index, i);
  const rejected = rejectedItems(m, index, ctx.rejected);
  if (extra.length === 0) {
    const d = m.data.als.factors;
    const stored =
      index >= 0 && base.items.length > 0 ? m.data.als.userFactors.subarray(index * d, (index + 1) * d) : undefined;
    return { history: base, vector: stored, attrs, known: index >= 0, index, unknownItems: [], typeOf, rejected };
  }
  const refused = new Set(rejected);
  const pos = new Map<number, number>();
  const items = Array.from(base.items);
  const counts = Array.from(base.counts);
  const lastTime = Array.from(base.lastTime);
  items.forEach((i, j) => pos.set(i, j));
  const unknownItems: string[] = [];
  let events = base.events;
  let spend = base.spend;
  let lastEventTime = base.lastEventTime;
  for (const e of extra) {
    const i = m.itemIndex.indexOf(e.item);
    if (i < 0) {
      if (unknownItems.length < 20) unknownItems.push(e.item);
      continue;
    }
    if (isNegativeType(e.type)) {
      refused.add(i);
      continue;
    }
    const j = pos.get(i);
    // Weighed as training weighed the bundle's own history (an unknown type counts as a view).
    const w = m.data.eventWeights[e.type] ?? m.data.eventWeights.view ?? 1;
    if (j === undefined) {
      pos.set(i, items.length);
      items.push(i);
      counts.push(w);
      lastTime.push(e.ts);
    } else {
      counts[j] += w;
      lastTime[j] = Math.max(lastTime[j], e.ts);
    }
    lastType.set(i, e.type);
    events++;
    spend += e.spend;
    if (!(lastEventTime >= e.ts)) lastEventTime = e.ts;
  }
  const merged: UserHistory = {
    items: Int32Array.from(items),
    counts: Float32Array.from(counts),
    lastTime: Float64Array.from(lastTime),
    events,
    spend,
    lastEventTime,
  };
  return {
    history: merged,
    vector: undefined,
    attrs,
    known: index >= 0,
    index,
    unknownItems,
    typeOf,
    rejected: Int32Array.from(refused),
  };
}

/** The bundle's record of the shopper's disliked and returned items, and the store's since. */
function rejectedItems(m: RecModel, index: number, streamed: readonly string[] | undefined): Int32Array {
  const own = index >= 0 ? itemsOf(m.data.history.rejected, index) : new Int32Array(0);
  if (!streamed || streamed.length === 0) return own;
  const all = new Set(own);
  for (const id of streamed) {
    const i = m.itemIndex.indexOf(id);
    if (i >= 0) all.add(i);
  }
  return Int32Array.from(all);
}

/** How the bundle's history says the shopper last touched an item (undefined if it has no such entry). */
function bundleType(m: RecModel, index: number, item: number): string | undefined {
  if (index < 0) return undefined;
  const ui = m.data.history.ui;
  const p = itemsOf(ui, index).indexOf(item);
  return p >= 0 ? EVENT_TYPES[ui.lastType[ui.indptr[index] + p]] : undefined;
}
