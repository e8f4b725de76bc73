import { DataError, SkipReport, rejectRecord } from '../errors.js';
import { FieldReader } from '../fields.js';
import { readTable, type ColumnSpec, type Row } from '../table.js';
import type { DatasetBuilder } from '../dataset.js';
import type { Item, UserAttributes } from '../types.js';
import { FirstSeen } from './first-seen.js';

export const EVENT_COLUMNS: readonly ColumnSpec[] = [
  { name: 'user_id', aliases: ['user', 'userid', 'customer_id', 'customer'], required: true },
  { name: 'item_id', aliases: ['item', 'itemid', 'product_id', 'product', 'sku'], required: true },
  { name: 'type', aliases: ['event', 'event_type', 'action'], required: true },
  { name: 'timestamp', aliases: ['ts', 'time', 'datetime', 'date'], required: true },
  { name: 'value', aliases: ['rating', 'score'], required: false },
  { name: 'quantity', aliases: ['qty'], required: false },
  { name: 'price', aliases: ['unit_price'], required: false },
  { name: 'context', aliases: [], required: false },
];

export const ITEM_COLUMNS: readonly ColumnSpec[] = [
  { name: 'item_id', aliases: ['id', 'item', 'product_id', 'sku'], required: true },
  { name: 'category', aliases: ['cat'], required: false },
  { name: 'brand', aliases: [], required: false },
  { name: 'price', aliases: [], required: false },
  { name: 'attributes', aliases: ['tags'], required: false },
  { name: 'text', aliases: ['title', 'name', 'description'], required: false },
  { name: 'available', aliases: ['in_stock', 'availability'], required: false },
];

export const USER_COLUMNS: readonly ColumnSpec[] = [
  { name: 'user_id', aliases: ['id', 'user', 'customer_id'], required: true },
  { name: 'age_band', aliases: ['ageband'], required: false },
  { name: 'gender', aliases: ['sex'], required: false },
  { name: 'region', aliases: ['country', 'state'], required: false },
  { name: 'age', aliases: [], required: false },
];

const asText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

function contextOf(f: FieldReader, row: Row): Record<string, string> | undefined {
  let ctx: Record<string, string> | undefined;
  const raw = row.known.context;
  if (raw !== undefined && raw !== '' && raw !== null) {
    let obj: unknown = raw;
    if (typeof raw === 'string') {
      try {
        obj = JSON.parse(raw);
      } catch {
        f.fail('context', 'must be a JSON object, e.g. {"device":"mobile"}');
      }
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) f.fail('context', 'must be a JSON object');
    ctx = {};
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) ctx[k] = asText(v);
  }
  for (const [k, v] of row.extra) {
    ctx ??= {};
    ctx[k] = asText(v);
  }
  return ctx;
}

export async function loadEvents(file: string, builder: DatasetBuilder, lenient?: SkipReport): Promise<void> {
  const f: FieldReader = new FieldReader(file, 0);
  for await (const rows of readTable(file, EVENT_COLUMNS, lenient, `load ${file}`)) {
    for (const row of rows) {
      f.line = row.line;
      try {
        const k = row.known;
        const user = f.requiredString('user_id', k.user_id);
        const item = f.requiredString('item_id', k.item_id);
        const type = f.eventType('type', k.type);
        const ts = f.timestamp('timestamp', k.timestamp);
        const value = f.optionalNumber('value', k.value);
        const quantity = f.optionalNumber('quantity', k.quantity, 0);
        const price = f.optionalNumber('price', k.price, 0);
        builder.addEvent(user, item, type, ts, value, quantity, price, contextOf(f, row));
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        rejectRecord(e, lenient);
      }
    }
  }
}

function attributesOf(f: FieldReader, raw: unknown, extra: [string, unknown][]): string[] {
  const out: string[] = [];
  if (typeof raw === 'string') {
    for (const t of raw.split('|')) if (t.trim()) out.push(t.trim());
  } else if (Array.isArray(raw)) {
    for (const t of raw) out.push(asText(t));
  } else if (raw !== null && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) out.push(`${k}:${asText(v)}`);
  } else if (raw !== undefined && raw !== null) {
    f.fail('attributes', 'must be a "|"-separated string, an array, or an object');
  }
  for (const [k, v] of extra) out.push(`${k}:${asText(v)}`);
  return out;
}

export async function loadItems(file: string, builder: DatasetBuilder, lenient?: SkipReport): Promise<void> {
  const f: FieldReader = new FieldReader(file, 0);
  const firstSeen = new FirstSeen('item');
  for await (const rows of readTable(file, ITEM_COLUMNS, lenient, `load ${file}`)) {
    for (const row of rows) {
      f.line = row.line;
      try {
        const k = row.known;
        const id = f.requiredString('item_id', k.item_id);
        firstSeen.check(f, 'item_id', id);
        const price = f.optionalNumber('price', k.price, 0);
        const item: Item = {
          id,
          category: f.optionalString('category', k.category),
          brand: f.optionalString('brand', k.brand),
          price: Number.isNaN(price) ? undefined : price,
          attributes: attributesOf(f, k.attributes, row.extra),
          text: f.optionalString('text', k.text),
          available: f.boolean('available', k.available, true),
        };
        firstSeen.record(id, row.line);
        builder.addItem(item);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        rejectRecord(e, lenient);
      }
    }
  }
}

export async function loadUsers(file: string, builder: DatasetBuilder, lenient?: SkipReport): Promise<void> {
  const f: FieldReader = new FieldReader(file, 0);
  const firstSeen = new FirstSeen('user');
  for await (const rows of readTable(file, USER_COLUMNS, lenient, `load ${file}`)) {
    for (const row of rows) {
      f.line = row.line;
      try {
        const k = row.known;
        const id = f.requiredString('user_id', k.user_id);
        firstSeen.check(f, 'user_id', id);
        const age = f.optionalNumber('age', k.age, 0);
        const attributes: Record<string, string> = {};
        for (const [key, v] of row.extra) attributes[key] = asText(v);
        const user: UserAttributes = {
          id,
          ageBand: f.optionalString('age_band', k.age_band) ?? (Number.isNaN(age) ? undefined : ageBandOf(age)),
          gender: f.optionalString('gender', k.gender),
          region: f.optionalString('region', k.region),
          age: Number.isNaN(age) ? undefined : age,
          attributes,
        };
        firstSeen.record(id, row.line);
        builder.addUser(user);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        rejectRecord(e, lenient);
      }
    }
  }
}

/** Age bands shared by every source, so features see one vocabulary. */
export function ageBandOf(age: number): string {
  if (age < 18) return '<18';
  if (age < 25) return '18-24';
  if (age < 35) return '25-34';
  if (age < 45) return '35-44';
  if (age < 55) return '45-54';
  if (age < 65) return '55-64';
  return '65+';
}
