import { IdMap } from './ids.js';
import { EVENT_TYPES } from '../protocol/calls.js';
import type { EventColumns, Item, UserAttributes } from './types.js';
import type { SkipReport } from './errors.js';

export interface DatasetSource {
  /** Which loader read it: movielens-100k, amazon-beauty, generic, synthetic. */
  format: string;
  path: string;
  files: string[];
  skipped?: ReturnType<SkipReport['toJSON']>;
  /** The declared category vocabulary, where the source has one (MovieLens genres). */
  categories?: string[];
  /**
   * The files list events that share a timestamp in the order they happened (Beauty.txt's time-ordered
   * sequences of day-stamped reviews): they are not one basket (train --baskets auto).
   */
  orderedTies?: boolean;
}

/** Everything a build needs, held in dense integer form. */
export class Dataset {
  constructor(
    readonly users: IdMap,
    readonly items: IdMap,
    readonly events: EventColumns,
    /** Indexed by item index; items seen only in events get a bare record (counted in the summary). */
    readonly itemInfo: Item[],
    /** Indexed by user index; undefined for users without attributes. */
    readonly userInfo: (UserAttributes | undefined)[],
    readonly source: DatasetSource,
    readonly itemsWithoutCatalogue: number,
  ) {}

  get numUsers(): number {
    return this.users.size;
  }

  get numItems(): number {
    return this.items.size;
  }

  get numEvents(): number {
    return this.events.length;
  }
}

export interface DatasetSummary {
  format: string;
  path: string;
  events: number;
  users: number;
  items: number;
  eventsByType: Record<string, number>;
  firstTimestamp: string | null;
  lastTimestamp: string | null;
  density: number;
  itemsWithCategory: number;
  itemsWithPrice: number;
  itemsWithoutCatalogue: number;
  usersWithAttributes: number;
  skipped: number;
}

export function summarize(ds: Dataset): DatasetSummary {
  const byType: Record<string, number> = {};
  let tMin = Infinity;
  let tMax = -Infinity;
  for (let i = 0; i < ds.events.length; i++) {
    const t = EVENT_TYPES[ds.events.type[i]];
    byType[t] = (byType[t] ?? 0) + 1;
    const ts = ds.events.timestamp[i];
    if (ts < tMin) tMin = ts;
    if (ts > tMax) tMax = ts;
  }
  const iso = (t: number): string | null => (Number.isFinite(t) ? new Date(t * 1000).toISOString() : null);
  return {
    format: ds.source.format,
    path: ds.source.path,
    events: ds.numEvents,
    users: ds.numUsers,
    items: ds.numItems,
    eventsByType: byType,
    firstTimestamp: iso(tMin),
    lastTimestamp: iso(tMax),
    density: ds.numUsers && ds.numItems ? ds.numEvents / (ds.numUsers * ds.numItems) : 0,
    itemsWithCategory: ds.itemInfo.filter((it) => it.category !== undefined).length,
    itemsWithPrice: ds.itemInfo.filter((it) => it.price !== undefined).length,
    itemsWithoutCatalogue: ds.itemsWithoutCatalogue,
    usersWithAttributes: ds.userInfo.filter((u) => u !== undefined).length,
    skipped: ds.source.skipped?.skipped ?? 0,
  };
}

class GrowableColumns {
  length = 0;
  private cap: number;
  user: Int32Array;
  item: Int32Array;
  type: Uint8Array;
  timestamp: Float64Array;
  value: Float32Array;
  quantity: Float32Array;
  price: Float32Array;
  context: (Record<string, string> | undefined)[] = [];

  constructor(initial = 1 << 16) {
    this.cap = initial;
    this.user = new Int32Array(initial);
    this.item = new Int32Array(initial);
    this.type = new Uint8Array(initial);
    this.timestamp = new Float64Array(initial);
    this.value = new Float32Array(initial);
    this.quantity = new Float32Array(initial);
    this.price = new Float32Array(initial);
  }

  private grow(): void {
    const cap = this.cap * 2;
    const grow = <T extends Int32Array | Uint8Array | Float64Array | Float32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a as never);
      return b;
    };
    this.user = grow(this.user, (n) => new Int32Array(n));
    this.item = grow(this.item, (n) => new Int32Array(n));
    this.type = grow(this.type, (n) => new Uint8Array(n));
    this.timestamp = grow(this.timestamp, (n) => new Float64Array(n));
    this.value = grow(this.value, (n) => new Float32Array(n));
    this.quantity = grow(this.quantity, (n) => new Float32Array(n));
    this.price = grow(this.price, (n) => new Float32Array(n));
    this.cap = cap;
  }

  push(
    user: number,
    item: number,
    type: number,
    ts: number,
    value: number,
    quantity: number,
    price: number,
    ctx: Record<string, string> | undefined,
  ): void {
    if (this.length === this.cap) this.grow();
    const i = this.length++;
    this.user[i] = user;
    this.item[i] = item;
    this.type[i] = type;
    this.timestamp[i] = ts;
    this.value[i] = value;
    this.quantity[i] = quantity;
    this.price[i] = price;
    if (ctx !== undefined) {
      while (this.context.length < i) this.context.push(undefined);
      this.context[i] = ctx;
    }
  }

  finish(): EventColumns {
    const n = this.length;
    const context = this.context;
    while (context.length < n) context.push(undefined);
    return {
      length: n,
      user: this.user.slice(0, n),
      item: this.item.slice(0, n),
      type: this.type.slice(0, n),
      timestamp: this.timestamp.slice(0, n),
      value: this.value.slice(0, n),
      quantity: this.quantity.slice(0, n),
      price: this.price.slice(0, n),
      context,
    };
  }
}

/** Accumulates items, users and events from any loader into a Dataset. */
export class DatasetBuilder {
  readonly users = new IdMap();
  readonly items = new IdMap();
  private readonly itemInfo: (Item | undefined)[] = [];
  private readonly userInfo: (UserAttributes | undefined)[] = [];
  private readonly cols = new GrowableColumns();

  hasItem(id: string): boolean {
    const i = this.items.indexOf(id);
    return i >= 0 && this.itemInfo[i] !== undefined;
  }

  hasUser(id: string): boolean {
    const i = this.users.indexOf(id);
    return i >= 0 && this.userInfo[i] !== undefined;
  }

  addItem(item: Item): void {
    const i = this.items.intern(item.id);
    this.itemInfo[i] = item;
  }

  addUser(user: UserAttributes): void {
    const i = this.users.intern(user.id);
    this.userInfo[i] = user;
  }

  /** `type` is an EVENT_TYPES code; NaN marks an absent value, quantity or price. */
  addEvent(
    user: string,
    item: string,
    type: number,
    ts: number,
    value = NaN,
    quantity = NaN,
    price = NaN,
    context?: Record<string, string>,
  ): void {
    this.cols.push(this.users.intern(user), this.items.intern(item), type, ts, value, quantity, price, context);
  }

  get eventCount(): number {
    return this.cols.length;
  }

  build(source: DatasetSource): Dataset {
    let missing = 0;
    const items: Item[] = [];
    for (let i = 0; i < this.items.size; i++) {
      const info = this.itemInfo[i];
      if (info) items.push(info);
      else {
        missing++;
        items.push({ id: this.items.idAt(i), attributes: [], available: true });
      }
    }
    const users: (UserAttributes | undefined)[] = [];
    for (let u = 0; u < this.users.size; u++) users.push(this.userInfo[u]);
    return new Dataset(this.users, this.items, this.cols.finish(), items, users, source, missing);
  }
}

/**
 * The data set without some shoppers: their events, their attributes and their ids leave it (the
 * items they touched stay in the catalogue). What `train --forget` builds from, so a bundle never
 * learns from, or names, a shopper who asked to be forgotten.
 */
export function withoutUsers(
  ds: Dataset,
  drop: (id: string) => boolean,
): { dataset: Dataset; users: number; events: number } {
  const gone = new Uint8Array(ds.numUsers);
  let users = 0;
  for (let u = 0; u < ds.numUsers; u++) {
    if (drop(ds.users.idAt(u))) {
      gone[u] = 1;
      users++;
    }
  }
  if (users === 0) return { dataset: ds, users: 0, events: 0 };
  const b = new DatasetBuilder();
  for (const item of ds.itemInfo) b.addItem(item);
  for (let u = 0; u < ds.numUsers; u++) {
    const info = ds.userInfo[u];
    if (!gone[u] && info) b.addUser(info);
  }
  const e = ds.events;
  let events = 0;
  for (let j = 0; j < e.length; j++) {
    if (gone[e.user[j]]) {
      events++;
      continue;
    }
    b.addEvent(
      ds.users.idAt(e.user[j]),
      ds.items.idAt(e.item[j]),
      e.type[j],
      e.timestamp[j],
      e.value[j],
      e.quantity[j],
      e.price[j],
      e.context[j],
    );
  }
  return { dataset: b.build(ds.source), users, events };
}
