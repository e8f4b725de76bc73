import { historyOf } from '../data/history.js';
import { itemsOf } from '../data/interactions.js';
import { VitrineError } from '../protocol/errors.js';
import type { ProfileResult } from '../protocol/replies.js';
import type { StateStore, StoredRecord } from '../state/store.js';
import type { ModelPool } from './pool.js';

/** Everything Vitrine holds or derived about one shopper (POST /admin/export). */
export interface ShopperExport {
  user: string;
  /** The key the store files them under (a keyed hash of the id). */
  pseudonym: string;
  forgotten: boolean;
  /** Events streamed since the serving bundle was built. */
  streamed: { item: string; type: string; ts: number; price?: number; quantity?: number }[];
  /** Per-user records (experiment exposures, promotion decisions), by kind and id. */
  records: Record<string, Record<string, StoredRecord>>;
  /** What the serving bundle learned from about them: its copy of their history and attributes. */
  bundle: {
    version: string;
    known: boolean;
    /** False once forgotten: the copy stays in the file until the next train, but is not used. */
    usedForServing: boolean;
    /** `interactions`: their events with the item, each weighed by the bundle's event weights (1 by default). */
    history: { item: string; interactions: number; lastSeen: string }[];
    /** Items they disliked or returned, kept off their lists. */
    rejected: string[];
    totals?: { events: number; spend: number; lastEventTime: string | null };
    attributes?: Record<string, unknown>;
  };
  /** What the profile call says of them now (segment, affinities, RFM). */
  profile: ProfileResult | null;
}

/** A user id given to an admin call, checked as a request's user field is. */
export function adminUser(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 256)
    throw new VitrineError('invalid_field', 'user: must be a non-empty string of at most 256 characters', 'user');
  return v;
}

const iso = (t: number): string => new Date(t * 1000).toISOString();

export async function exportShopper(
  user: string,
  store: StateStore,
  currentPool: () => ModelPool | undefined,
): Promise<ShopperExport> {
  const held = await store.exportUser(user);
  // Taken after the store read: a reload during it may have retired the pool current before it.
  const pool = currentPool();
  const b = pool?.data;
  const index = b ? b.userIds.indexOf(user) : -1;
  const bundle: ShopperExport['bundle'] = {
    version: pool?.version ?? '',
    known: index >= 0,
    usedForServing: index >= 0 && !held.forgotten,
    history: [],
    rejected: [],
  };
  if (b && index >= 0) {
    const h = historyOf(b.history.ui, b.history.totals, index);
    bundle.history = Array.from(h.items, (i, j) => ({
      item: b.items[i].id,
      interactions: h.counts[j],
      lastSeen: iso(h.lastTime[j]),
    }));
    bundle.rejected = Array.from(itemsOf(b.history.rejected, index), (i) => b.items[i].id);
    bundle.totals = {
      events: h.events,
      spend: h.spend,
      lastEventTime: Number.isFinite(h.lastEventTime) ? iso(h.lastEventTime) : null,
    };
    const attrs = b.users[index];
    if (attrs) bundle.attributes = { ...attrs };
  }
  let profile: ProfileResult | null = null;
  if (pool) {
    const reply = await pool.run({
      call: { call: 'profile', user },
      streamed: held.streamed,
      forgotten: held.forgotten,
      now: Date.now() / 1000,
    });
    if ('result' in reply.outcome) profile = reply.outcome.result as ProfileResult;
  }
  return {
    user,
    pseudonym: held.pseudonym,
    forgotten: held.forgotten,
    streamed: held.streamed,
    records: held.records,
    bundle,
    profile,
  };
}
