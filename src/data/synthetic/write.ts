import { createWriteStream, type WriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDirAtomically } from '../../util/atomic-dir.js';
import { prepareOutputDir, type OutputMarker } from '../../util/output-dir.js';
import { csvField } from '../csv.js';
import { promotionsCsv } from '../promotions.js';
import { campaignCatalogue } from './promotion-response.js';
import { Progress } from '../../util/progress.js';
import { expectedEvents, validateConfig, type SyntheticConfig } from './config.js';
import { SIM_EVENT_TYPES, simulate } from './simulate.js';
import { groundTruth } from './truth.js';
import { buildWorld, type World } from './world.js';

/** 2: promotions.csv is the campaign catalogue `--promotions` reads; the weekly discounts moved to discounts.csv. */
export const GENERATOR_VERSION = 2;
const GENERATOR = 'vitrine-synthetic-shop';

/** A shop this generator wrote (meta.json names it) may be regenerated in place. */
const SHOP_MARKER: OutputMarker = {
  file: 'meta.json',
  what: 'a generated shop',
  isOurs: (m) => m !== null && typeof m === 'object' && (m as { generator?: unknown }).generator === GENERATOR,
};

export interface GenerateResult {
  dir: string;
  events: number;
  eventsByType: Record<string, number>;
  users: number;
  items: number;
  seconds: number;
}

/** Buffered line writer that respects stream backpressure, so a 1M-event file never piles up in memory. */
class LineWriter {
  private buf: string[] = [];
  private size = 0;
  /** A write error (a full disk): kept and thrown by the next call, since an unheard stream 'error' ends the process. */
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly stream: WriteStream) {
    stream.on('error', (e) => {
      this.failure = e;
      this.wake?.();
    });
  }

  async line(text: string): Promise<void> {
    this.buf.push(text);
    this.size += text.length + 1;
    if (this.size > 1 << 16) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.buf.length === 0) return;
    const chunk = this.buf.join('\n') + '\n';
    this.buf = [];
    this.size = 0;
    if (!this.stream.write(chunk)) {
      await new Promise<void>((r) => {
        this.wake = r;
        this.stream.once('drain', () => r());
      });
      if (this.failure) throw this.failure;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve, reject) =>
      this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    if (this.failure) throw this.failure;
  }
}

/**
 * Writes a synthetic shop to `outDir`: items.csv, users.csv, discounts.csv (the weekly price cuts
 * shoppers saw), promotions.csv (the offers a server may show now), events.csv (time order), truth.jsonl (each user's truly preferred items) and meta.json. Output goes to a
 * temporary sibling directory renamed into place at the end, so a crash never leaves a
 * half-written shop that looks complete. The same config gives byte-identical files.
 */
export async function generateShop(config: SyntheticConfig, outDir: string): Promise<GenerateResult> {
  prepareOutputDir(outDir, SHOP_MARKER);
  validateConfig(config);
  const started = performance.now();
  const { count, byType, world } = await writeDirAtomically(outDir, (tmp) => writeShopFiles(config, tmp));
  return {
    dir: outDir,
    events: count,
    eventsByType: byType,
    users: world.users.length,
    items: world.items.length,
    seconds: (performance.now() - started) / 1000,
  };
}

async function writeShopFiles(
  config: SyntheticConfig,
  tmp: string,
): Promise<{ count: number; byType: Record<string, number>; world: World }> {
  const world = buildWorld(config);

  const items = new LineWriter(createWriteStream(join(tmp, 'items.csv')));
  await items.line('item_id,category,brand,price,attributes,text,available');
  for (const it of world.items) {
    await items.line(
      [
        it.id,
        csvField(world.categoryNames[it.category]),
        csvField(world.brandNames[it.category][it.brand]),
        it.price.toFixed(2),
        it.attributes.join('|'),
        csvField(it.text),
        it.available ? '1' : '0',
      ].join(','),
    );
  }
  await items.close();

  const users = new LineWriter(createWriteStream(join(tmp, 'users.csv')));
  await users.line('user_id,age_band,gender,region');
  for (const u of world.users) await users.line(`${u.id},${u.ageBand},${u.gender},${u.region}`);
  await users.close();

  const discounts = new LineWriter(createWriteStream(join(tmp, 'discounts.csv')));
  await discounts.line('discount_id,week,scope,target,discount');
  for (const p of world.promotions) {
    const target = p.category >= 0 ? world.categoryNames[p.category] : world.items[p.item].id;
    await discounts.line(
      `${p.id},${p.week + 1},${p.category >= 0 ? 'category' : 'item'},${csvField(target)},${p.discount.toFixed(2)}`,
    );
  }
  await discounts.close();
  await writeFile(join(tmp, 'promotions.csv'), promotionsCsv(campaignCatalogue(world)));

  const events = new LineWriter(createWriteStream(join(tmp, 'events.csv')));
  await events.line('user_id,item_id,type,timestamp,quantity,price,session,discount');
  const progress = new Progress('generate events', expectedEvents(config), 'events');
  const byType: Record<string, number> = Object.fromEntries(SIM_EVENT_TYPES.map((t) => [t, 0]));
  let count = 0;
  for (const week of simulate(world)) {
    for (const e of week) {
      const type = SIM_EVENT_TYPES[e.type];
      byType[type]++;
      await events.line(
        `${world.users[e.user].id},${world.items[e.item].id},${type},${e.ts},${e.quantity > 0 ? e.quantity : ''},${e.price.toFixed(2)},s${e.session},${e.promotion >= 0 ? world.promotions[e.promotion].id : ''}`,
      );
    }
    count += week.length;
    progress.update(count);
  }
  progress.setTotal(count);
  progress.finish();
  await events.close();

  const truth = new LineWriter(createWriteStream(join(tmp, 'truth.jsonl')));
  const tp = new Progress('ground truth', world.users.length, 'users');
  for (const t of groundTruth(world)) {
    await truth.line(
      JSON.stringify({
        user_id: world.users[t.user].id,
        items: Array.from(t.items, (i) => world.items[i].id),
        scores: Array.from(t.scores, (s) => Number(s.toFixed(4))),
      }),
    );
    tp.tick();
  }
  tp.finish();
  await truth.close();

  const meta = {
    generator: GENERATOR,
    generatorVersion: GENERATOR_VERSION,
    config,
    counts: {
      users: world.users.length,
      items: world.items.length,
      events: count,
      eventsByType: byType,
      discounts: world.promotions.length,
    },
    files: ['items.csv', 'users.csv', 'discounts.csv', 'promotions.csv', 'events.csv', 'truth.jsonl'],
  };
  await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  return { count, byType, world };
}
