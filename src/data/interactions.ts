import type { Rng } from '../util/rng.js';
import type { EventColumns } from './types.js';

/**
 * Per-user sets of distinct items in CSR form, in order of first interaction, with how often and
 * when last each was touched. Built from a list of event indices (a split side), so train, test and
 * validation views of one Dataset share the same code.
 */
export interface UserItems {
  numUsers: number;
  numItems: number;
  indptr: Int32Array;
  items: Int32Array;
  /** Events per (user, item) entry, weighted by type when the bundle weighs them. */
  count: Float32Array;
  /** Time of the last event per entry. */
  lastTime: Float64Array;
  /** The type code of that last event (what an explanation says the shopper did). */
  lastType: Uint8Array;
}

/**
 * The events grouped by user (ascending) and in time order within each, ties in file order: the
 * split's layout, which is returned as it is; any other order is sorted into it.
 */
export function userTimeOrder(events: EventColumns, idx: Int32Array): Int32Array {
  let sorted = true;
  for (let j = 1; j < idx.length && sorted; j++) {
    const a = idx[j - 1];
    const b = idx[j];
    if (
      events.user[a] > events.user[b] ||
      (events.user[a] === events.user[b] && events.timestamp[a] > events.timestamp[b])
    )
      sorted = false;
  }
  return sorted
    ? idx
    : Int32Array.from(idx).sort(
        (a, b) => events.user[a] - events.user[b] || events.timestamp[a] - events.timestamp[b] || a - b,
      );
}

/** `weights`: per event type code, what one event adds to its pair's count (default 1 each; see event-weights.ts). */
export function buildUserItems(
  events: EventColumns,
  idx: Int32Array,
  numUsers: number,
  numItems: number,
  weights?: Float32Array,
): UserItems {
  const order = userTimeOrder(events, idx);

  const indptr = new Int32Array(numUsers + 1);
  const items: number[] = [];
  const count: number[] = [];
  const lastTime: number[] = [];
  const lastType: number[] = [];
  const slot = new Map<number, number>();
  let j = 0;
  for (let u = 0; u < numUsers; u++) {
    slot.clear();
    while (j < order.length && events.user[order[j]] === u) {
      const e = order[j++];
      const i = events.item[e];
      const s = slot.get(i);
      const w = weights ? weights[events.type[e]] : 1;
      if (s === undefined) {
        slot.set(i, items.length);
        items.push(i);
        count.push(w);
        lastTime.push(events.timestamp[e]);
        lastType.push(events.type[e]);
      } else {
        count[s] += w;
        if (events.timestamp[e] >= lastTime[s]) {
          lastTime[s] = events.timestamp[e];
          lastType[s] = events.type[e];
        }
      }
    }
    indptr[u + 1] = items.length;
  }
  return {
    numUsers,
    numItems,
    indptr,
    items: Int32Array.from(items),
    count: Float32Array.from(count),
    lastTime: Float64Array.from(lastTime),
    lastType: Uint8Array.from(lastType),
  };
}

/** Row u of a user-by-item CSR table: the items of a UserItems, or a bundle's rejected items. */
export function itemsOf(ui: Pick<UserItems, 'indptr' | 'items'>, u: number): Int32Array {
  return ui.items.subarray(ui.indptr[u], ui.indptr[u + 1]);
}

/** Distinct users per item (CSR transpose), for item-based models. */
export function transpose(ui: UserItems): { indptr: Int32Array; users: Int32Array } {
  const indptr = new Int32Array(ui.numItems + 1);
  for (const i of ui.items) indptr[i + 1]++;
  for (let i = 0; i < ui.numItems; i++) indptr[i + 1] += indptr[i];
  const fill = indptr.slice(0, ui.numItems);
  const users = new Int32Array(ui.items.length);
  for (let u = 0; u < ui.numUsers; u++) {
    for (let p = ui.indptr[u]; p < ui.indptr[u + 1]; p++) users[fill[ui.items[p]]++] = u;
  }
  return { indptr, users };
}

/**
 * The interactions with `keep`'s items only, renumbered 0..keep.length-1 in `keep`'s order: a
 * smaller problem over the same users (EASE's λ is tuned on the most popular items of a catalogue
 * too large to invert once per grid point).
 */
export function restrictToItems(ui: UserItems, keep: Int32Array): UserItems {
  const renumber = new Int32Array(ui.numItems).fill(-1);
  keep.forEach((item, j) => {
    renumber[item] = j;
  });
  const indptr = new Int32Array(ui.numUsers + 1);
  const items: number[] = [];
  const count: number[] = [];
  const lastTime: number[] = [];
  const lastType: number[] = [];
  for (let u = 0; u < ui.numUsers; u++) {
    for (let p = ui.indptr[u]; p < ui.indptr[u + 1]; p++) {
      const j = renumber[ui.items[p]];
      if (j < 0) continue;
      items.push(j);
      count.push(ui.count[p]);
      lastTime.push(ui.lastTime[p]);
      lastType.push(ui.lastType[p]);
    }
    indptr[u + 1] = items.length;
  }
  return {
    numUsers: ui.numUsers,
    numItems: keep.length,
    indptr,
    items: Int32Array.from(items),
    count: Float32Array.from(count),
    lastTime: Float64Array.from(lastTime),
    lastType: Uint8Array.from(lastType),
  };
}

/** The `m` items with the most users, most first. */
export function mostPopularItems(ui: UserItems, m: number): Int32Array {
  const users = new Float64Array(ui.numItems);
  for (const i of ui.items) users[i]++;
  return Int32Array.from(
    Array.from({ length: ui.numItems }, (_, i) => i)
      .sort((a, b) => users[b] - users[a] || a - b)
      .slice(0, m),
  );
}

/** The users with any item in `ui`, in user order; past `max` of them, a sample of `max` drawn with `rng`. */
export function usersWithItems(ui: Pick<UserItems, 'numUsers' | 'indptr'>, max: number, rng: Rng): number[] {
  const users: number[] = [];
  for (let u = 0; u < ui.numUsers; u++) if (ui.indptr[u + 1] > ui.indptr[u]) users.push(u);
  if (users.length <= max) return users;
  return rng
    .shuffle(users)
    .slice(0, max)
    .sort((a, b) => a - b);
}
