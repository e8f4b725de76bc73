import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Dataset, DatasetBuilder } from '../dataset.js';
import { counted } from '../../util/progress.js';
import { DataError, SkipReport } from '../errors.js';
import { loadAmazonBeauty } from './amazon-beauty.js';
import { loadEvents, loadItems, loadUsers } from './generic.js';
import { loadMovieLens } from './movielens.js';

export interface LoadOptions {
  /** Skip bad records (counted and explained in the result) instead of stopping at the first. */
  lenient?: boolean;
}

export interface GenericFiles {
  events: string;
  items?: string;
  users?: string;
}

export type DataFormat = 'movielens-100k' | 'amazon-beauty' | 'generic';

const TABLE_EXTS = ['.csv', '.tsv', '.jsonl', '.ndjson'];

function findTable(dir: string, stem: string): string | undefined {
  const found = TABLE_EXTS.map((ext) => join(dir, stem + ext)).filter((p) => existsSync(p));
  // Two candidates (an events.csv beside an events.jsonl export) would mean silently picking one.
  if (found.length > 1)
    throw new DataError(
      found[1],
      0,
      undefined,
      `${dir} holds ${found.map((p) => basename(p)).join(' and ')}; keep one ${stem} table`,
    );
  return found[0];
}

/** Which layout a directory holds, judged by the files in it. */
export function detectFormat(dir: string): DataFormat {
  if (!existsSync(dir)) throw new DataError(dir, 0, undefined, 'no such file or directory');
  if (!statSync(dir).isDirectory()) throw new DataError(dir, 0, undefined, 'expected a directory of data files');
  if (existsSync(join(dir, 'u.data'))) return 'movielens-100k';
  if (existsSync(join(dir, 'Beauty.txt'))) return 'amazon-beauty';
  if (findTable(dir, 'events')) return 'generic';
  throw new DataError(
    dir,
    0,
    undefined,
    'no recognised data layout (expected u.data for MovieLens, Beauty.txt for Amazon Beauty, or events.csv/.tsv/.jsonl with optional items.* and users.*)',
  );
}

/** Loads a data directory (any supported layout) or an explicit set of generic files. */
export async function loadDataset(source: string | GenericFiles, options: LoadOptions = {}): Promise<Dataset> {
  const lenient = options.lenient ? new SkipReport() : undefined;
  const builder = new DatasetBuilder();
  let format: DataFormat;
  let files: string[];
  let categories: string[] | undefined;
  let path: string;

  if (typeof source === 'string') {
    path = resolve(source);
    format = detectFormat(path);
    if (format === 'movielens-100k') ({ files, categories } = await loadMovieLens(path, builder, lenient));
    else if (format === 'amazon-beauty') ({ files } = await loadAmazonBeauty(path, builder, lenient));
    else
      files = await loadGeneric(
        { events: findTable(path, 'events')!, items: findTable(path, 'items'), users: findTable(path, 'users') },
        builder,
        lenient,
      );
  } else {
    format = 'generic';
    path = resolve(source.events);
    for (const f of [source.events, source.items, source.users]) {
      if (f !== undefined && !existsSync(f)) throw new DataError(f, 0, undefined, 'no such file');
    }
    files = await loadGeneric(source, builder, lenient);
  }
  if (builder.eventCount === 0) {
    // With --lenient every record may have been skipped: say how many and why, not just "none".
    const why =
      lenient && lenient.skipped > 0
        ? ` (--lenient skipped ${counted(lenient.skipped, 'record')}: ${[...lenient.byReason].map(([r, n]) => `${n} × ${r}`).join('; ')}; first: ${lenient.examples[0]})`
        : '';
    throw new DataError(path, 0, undefined, `no events were loaded${why}`);
  }
  const orderedTies = format === 'amazon-beauty' ? true : undefined;
  return builder.build({ format, path, files, skipped: lenient?.toJSON(), categories, orderedTies });
}

async function loadGeneric(files: GenericFiles, builder: DatasetBuilder, lenient?: SkipReport): Promise<string[]> {
  // Catalogue and users first, so that item and user indices follow the catalogue's order.
  if (files.items) await loadItems(files.items, builder, lenient);
  if (files.users) await loadUsers(files.users, builder, lenient);
  await loadEvents(files.events, builder, lenient);
  return [files.items, files.users, files.events].filter((f): f is string => f !== undefined);
}
