import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { csvField } from './csv.js';
import { DataError } from './errors.js';
import { FieldReader } from './fields.js';
import { type ColumnSpec, readTable } from './table.js';

export const PROMOTION_KINDS = ['percent_off', 'amount_off_over', 'free_shipping', 'coupon'] as const;
export type PromotionKind = (typeof PROMOTION_KINDS)[number];

/** One offer a shop may show: what it gives, who may get it, and what it costs the shop. */
export interface PromotionSpec {
  id: string;
  kind: PromotionKind;
  /** percent_off and coupon: the percentage off (1-90); amount_off_over: the amount off; free_shipping: 0. */
  value: number;
  /** The basket value it needs (amount_off_over: the amount to spend to get `value` off). */
  minBasket: number;
  /** Segment ids or labels it is for; empty for every shopper. */
  segments: string[];
  /** Categories it is for (in the basket, or among the shopper's own when there is no basket); empty for all. */
  categories: string[];
  /** Unix seconds; -Infinity / Infinity when open. */
  start: number;
  end: number;
  /** Redemptions allowed in all; Infinity when unlimited. */
  budget: number;
  /** What each redemption costs the shop beyond the discount itself (shipping, for free_shipping). */
  cost: number;
  /** The code a shopper types (required for coupon). */
  code?: string;
  /** What to show; "15% off" and the like when not given. */
  label: string;
}

export interface PromotionCatalogue {
  file: string;
  promotions: PromotionSpec[];
}

const COLUMNS: ColumnSpec[] = [
  { name: 'id', aliases: ['promotion_id', 'promotion'], required: true },
  { name: 'kind', aliases: ['type'], required: true },
  { name: 'value', aliases: ['discount', 'amount', 'percent'], required: false },
  { name: 'min_basket', aliases: ['minbasket', 'min_basket_value', 'threshold'], required: false },
  { name: 'segments', aliases: ['segment'], required: false },
  { name: 'categories', aliases: ['category'], required: false },
  { name: 'start', aliases: ['starts', 'start_time', 'from'], required: false },
  { name: 'end', aliases: ['ends', 'end_time', 'until'], required: false },
  { name: 'budget', aliases: ['max_redemptions', 'redemptions'], required: false },
  { name: 'cost', aliases: ['fixed_cost'], required: false },
  { name: 'code', aliases: ['coupon_code'], required: false },
  { name: 'label', aliases: ['title', 'name'], required: false },
];
const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
/** A catalogue is read whole into every server: a bound keeps a mistaken file from taking the memory. */
export const MAX_PROMOTIONS = 1000;

/** Reads and checks a promotion catalogue: CSV, TSV or JSONL with a header of the columns above, or JSON. */
export async function readPromotions(file: string): Promise<PromotionCatalogue> {
  const rows: { line: number; values: Record<string, unknown> }[] = [];
  if (extname(file).toLowerCase() === '.json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new DataError(file, 0, undefined, `not valid JSON (${(e as Error).message})`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { promotions?: unknown } | null)?.promotions;
    if (!Array.isArray(list))
      throw new DataError(file, 0, undefined, 'expected an array of promotions, or {"promotions": [...]}');
    list.forEach((o, j) => {
      if (typeof o !== 'object' || o === null || Array.isArray(o))
        throw new DataError(file, j + 1, undefined, 'each promotion must be an object');
      rows.push({ line: j + 1, values: camelToColumns(file, j + 1, o as Record<string, unknown>) });
    });
  } else {
    for await (const batch of readTable(file, COLUMNS, undefined, 'promotions')) {
      for (const r of batch) {
        if (r.extra.length > 0)
          throw new DataError(file, r.line, r.extra[0][0], `unknown column (expected ${columnNames()})`);
        rows.push({ line: r.line, values: r.known });
      }
    }
  }
  if (rows.length > MAX_PROMOTIONS)
    throw new DataError(file, 0, undefined, `${rows.length} promotions; at most ${MAX_PROMOTIONS} are allowed`);
  const promotions: PromotionSpec[] = [];
  const seen = new Map<string, number>();
  for (const { line, values } of rows) {
    const p = promotionOf(new FieldReader(file, line), values);
    const first = seen.get(p.id);
    if (first !== undefined)
      throw new DataError(file, line, 'id', `"${p.id}" is already the id of the promotion at ${first}`);
    seen.set(p.id, line);
    promotions.push(p);
  }
  return { file, promotions };
}

const columnNames = (): string => COLUMNS.map((c) => c.name).join(', ');

/** JSON entries use camelCase (minBasket); they are checked against the same columns. */
function camelToColumns(file: string, line: number, o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const col = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (!COLUMNS.some((c) => c.name === col))
      throw new DataError(file, line, k, `unknown key (expected ${COLUMNS.map((c) => camel(c.name)).join(', ')})`);
    out[col] = Array.isArray(v) ? v.join('|') : v;
  }
  return out;
}

const camel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function promotionOf(f: FieldReader, v: Record<string, unknown>): PromotionSpec {
  const id = f.requiredString('id', v.id);
  if (!ID.test(id)) f.fail('id', `"${id}" must be 1-64 letters, digits or . _ : -`);
  const kindRaw = f.requiredString('kind', v.kind).toLowerCase();
  if (!(PROMOTION_KINDS as readonly string[]).includes(kindRaw))
    f.fail('kind', `unknown kind "${kindRaw}" (expected one of ${PROMOTION_KINDS.join(', ')})`);
  const kind = kindRaw as PromotionKind;
  const value = f.optionalNumber('value', v.value, 0);
  const minBasket = f.optionalNumber('min_basket', v.min_basket, 0);
  const cost = f.optionalNumber('cost', v.cost, 0);
  const code = f.optionalString('code', v.code);
  if (kind === 'percent_off' || kind === 'coupon') {
    if (!(value >= 1 && value <= 90)) f.fail('value', `${kind} needs the percentage off, from 1 to 90`);
  } else if (kind === 'amount_off_over') {
    if (!(value > 0)) f.fail('value', 'amount_off_over needs the amount off (above 0)');
    if (!(minBasket > value))
      f.fail('min_basket', 'amount_off_over needs the basket value to reach, above the amount off');
  } else if (Number.isFinite(value) && value !== 0)
    f.fail('value', 'free_shipping takes no value (its cost to the shop goes in cost)');
  if (kind === 'free_shipping' && !(cost > 0)) f.fail('cost', 'free_shipping needs what the shipping costs the shop');
  if (kind === 'coupon' && code === undefined) f.fail('code', 'a coupon needs the code the shopper types');
  const start = v.start === undefined || v.start === '' ? -Infinity : f.timestamp('start', v.start);
  const end = v.end === undefined || v.end === '' ? Infinity : f.timestamp('end', v.end);
  if (!(end > start)) f.fail('end', 'must be after start');
  const budget = f.optionalNumber('budget', v.budget, 1);
  if (Number.isFinite(budget) && !Number.isInteger(budget)) f.fail('budget', 'must be a whole number of redemptions');
  const list = (field: string): string[] =>
    (f.optionalString(field, v[field]) ?? '')
      .split('|')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  const amount = Number.isFinite(value) ? value : 0;
  return {
    id,
    kind,
    value: amount,
    minBasket: Number.isFinite(minBasket) ? minBasket : 0,
    segments: list('segments'),
    categories: list('categories'),
    start,
    end,
    budget: Number.isFinite(budget) ? budget : Infinity,
    cost: Number.isFinite(cost) ? cost : 0,
    code,
    label: f.optionalString('label', v.label) ?? defaultLabel(kind, amount, minBasket),
  };
}

function defaultLabel(kind: PromotionKind, value: number, minBasket: number): string {
  if (kind === 'percent_off' || kind === 'coupon') return `${value}% off`;
  if (kind === 'amount_off_over') return `${value} off when you spend ${minBasket}`;
  return 'free shipping';
}

/** The discount a redemption gives on an order of `basket` (before discount). */
export function discountOn(p: PromotionSpec, basket: number): number {
  if (p.kind === 'percent_off' || p.kind === 'coupon') return (basket * p.value) / 100;
  if (p.kind === 'amount_off_over') return basket >= p.minBasket ? p.value : 0;
  return 0;
}

/** What the shop keeps from an order of `basket` made with the promotion (null: no promotion). */
export function netRevenue(p: PromotionSpec | null, basket: number): number {
  return p ? basket - discountOn(p, basket) - p.cost : basket;
}

/** A catalogue as the CSV `readPromotions` reads back to the same promotions. */
export function promotionsCsv(promotions: readonly PromotionSpec[]): string {
  const time = (t: number): string =>
    Number.isFinite(t) ? new Date(t * 1000).toISOString().replace('.000Z', 'Z') : '';
  const lines = promotions.map((p) =>
    [
      p.id,
      p.kind,
      p.kind === 'free_shipping' ? '' : String(p.value),
      p.minBasket > 0 ? String(p.minBasket) : '',
      csvField(p.segments.join('|')),
      csvField(p.categories.join('|')),
      time(p.start),
      time(p.end),
      Number.isFinite(p.budget) ? String(p.budget) : '',
      p.cost > 0 ? String(p.cost) : '',
      csvField(p.code ?? ''),
      csvField(p.label),
    ].join(','),
  );
  return `${COLUMNS.map((c) => c.name).join(',')}\n${lines.map((l) => `${l}\n`).join('')}`;
}
