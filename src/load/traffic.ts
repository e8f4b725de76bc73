import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CALLS, type CallName } from '../protocol/calls.js';
import { VitrineError } from '../protocol/errors.js';
import { AliasTable, Rng } from '../util/rng.js';
import type { Traffic } from './engine.js';

export type Mix = Partial<Record<CallName, number>>;

export const DEFAULT_MIX: Mix = { recommend: 0.7, event: 0.2, similar: 0.05, promotion: 0.05 };

/** `recommend=0.7,event=0.2,...`: the share of each call (normalised to 1). */
export function parseMix(text: string): Mix {
  const mix: Mix = {};
  for (const part of text.split(',')) {
    const m = /^\s*(\w+)\s*=\s*([0-9.]+)\s*$/.exec(part);
    if (!m)
      throw new VitrineError('invalid_argument', `--mix: "${part}" is not call=share (e.g. recommend=0.7,event=0.3)`);
    if (!(CALLS as readonly string[]).includes(m[1]))
      throw new VitrineError('invalid_argument', `--mix: unknown call "${m[1]}" (expected ${CALLS.join(', ')})`);
    const share = Number(m[2]);
    if (!(share > 0)) throw new VitrineError('invalid_argument', `--mix: ${m[1]}'s share must be above 0`);
    mix[m[1] as CallName] = share;
  }
  return mix;
}

interface Catalogue {
  users: string[];
  /** Grows as replies name items, when the traffic learns the catalogue from the server. */
  items: string[];
  /** An item new shoppers browse: drawn by how often it was bought and viewed, where that is known. */
  popular: (rng: Rng) => string;
}

function readCatalogue(bundle: string): Catalogue {
  const users = (JSON.parse(readFileSync(join(bundle, 'users.json'), 'utf8')) as { ids: string[] }).ids;
  const items = (JSON.parse(readFileSync(join(bundle, 'catalog.json'), 'utf8')) as { id: string }[]).map((i) => i.id);
  const raw = readFileSync(join(bundle, 'pop_count.f32'));
  const counts = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const table = new AliasTable(Array.from(counts, (c) => c + 0.1));
  return { users, items, popular: (rng) => items[table.sample(rng)] };
}

/** Items learned from replies: at most this many kept. */
const LEARNT_ITEMS = 10_000;

/**
 * Traffic for a server whose bundle is not at hand: shoppers it does not know (`loadtest-1` ...
 * `loadtest-5000`) who become known through the events they send, and items learned from what
 * `recommend` answers. Until a reply has named an item, every call is a `recommend`.
 */
export function discoveredTraffic(mix: Mix, seed: number): Traffic {
  const items: string[] = [];
  const c: Catalogue = {
    users: Array.from({ length: 5000 }, (_, j) => `loadtest-${j + 1}`),
    items,
    popular: (rng) => items[rng.int(Math.min(items.length, 100))],
  };
  const traffic = bundleTraffic(c, mix, seed, 0);
  const seen = new Set<string>();
  return {
    next: (seq) =>
      items.length === 0
        ? { call: 'recommend', body: { user: c.users[seq % c.users.length], k: 10 } }
        : traffic.next(seq),
    observe(call, body, result): void {
      for (const i of (result as { items?: { id: string }[] }).items ?? [])
        if (items.length < LEARNT_ITEMS && !seen.has(i.id)) {
          seen.add(i.id);
          items.push(i.id);
        }
      traffic.observe?.(call, body, result);
    },
  };
}

/**
 * Traffic like a shop's, from a bundle: returning shoppers (its user ids) and new ones (ids it does
 * not know, with a short browsing history of popular items), `similar` and `boughtTogether` on items
 * drawn across the whole catalogue (the long tail included), and events that follow what
 * `recommend` returned to the same shopper (a view, sometimes a purchase).
 */
export function bundleTraffic(bundle: string | Catalogue, mix: Mix, seed: number, newShare = 0.2): Traffic {
  const c = typeof bundle === 'string' ? readCatalogue(bundle) : bundle;
  const rng = new Rng(seed);
  const calls = Object.keys(mix) as CallName[];
  const pick = new AliasTable(calls.map((k) => mix[k]!));
  const shown: { user: string; items: string[] }[] = [];
  let newShoppers = 0;
  const user = (): string => c.users[rng.int(c.users.length)];
  const anyItem = (): string => c.items[rng.int(c.items.length)];
  const shopper = (): Record<string, unknown> =>
    rng.next() < newShare
      ? {
          user: `new-${++newShoppers}`,
          history: Array.from({ length: 1 + rng.int(5) }, () => c.popular(rng)),
        }
      : { user: user() };
  return {
    next(): { call: CallName; body: Record<string, unknown> } {
      const call = calls[pick.sample(rng)];
      switch (call) {
        case 'recommend':
          return { call, body: { ...shopper(), k: 10 } };
        case 'similar':
          return { call, body: { item: anyItem(), k: 10 } };
        case 'boughtTogether':
          return { call, body: { items: [anyItem(), anyItem()], k: 10 } };
        case 'score':
          return { call, body: { user: user(), items: Array.from({ length: 10 }, anyItem) } };
        case 'profile':
          return { call, body: { user: user() } };
        case 'promotion':
          return { call, body: { user: user() } };
        case 'event': {
          // What a shopper does after a recommendation: views one of them, now and then buys.
          let who = user();
          let items = [anyItem()];
          if (shown.length > 0) {
            const at = rng.int(shown.length);
            ({ user: who, items } = shown[at]);
            shown[at] = shown[shown.length - 1];
            shown.pop();
          }
          const type = rng.next() < 0.1 ? 'purchase' : 'view';
          return {
            call,
            body: { user: who, item: items[rng.int(items.length)], type, ...(type === 'purchase' && { price: 20 }) },
          };
        }
      }
    },
    observe(call, body, result): void {
      if (call !== 'recommend' || typeof body.user !== 'string') return;
      const items = (result as { items?: { id: string }[] }).items?.map((i) => i.id) ?? [];
      // Bounded: the newest shoppers' recommendations only.
      if (items.length > 0 && shown.length < 10_000) shown.push({ user: body.user, items });
    },
  };
}

/** Recorded requests (`{"call": ..., fields}` per line), replayed in order and from the start again. */
export function fileTraffic(file: string): Traffic {
  const lines = readFileSync(file, 'utf8').split('\n');
  const requests: { call: CallName; body: Record<string, unknown> }[] = [];
  lines.forEach((text, j) => {
    if (text.trim() === '') return;
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch (e) {
      throw new VitrineError('invalid_argument', `--requests ${file}:${j + 1}: not JSON (${(e as Error).message})`);
    }
    const { call, id: _id, ...body } = (o ?? {}) as Record<string, unknown>;
    if (typeof call !== 'string' || !(CALLS as readonly string[]).includes(call))
      throw new VitrineError(
        'invalid_argument',
        `--requests ${file}:${j + 1}: "call" must be one of ${CALLS.join(', ')}`,
      );
    requests.push({ call: call as CallName, body });
  });
  if (requests.length === 0) throw new VitrineError('invalid_argument', `--requests ${file}: no requests in it`);
  let at = 0;
  return { next: () => requests[at++ % requests.length] };
}
