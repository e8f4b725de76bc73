import { join } from 'node:path';
import { DataError, SkipReport, rejectRecord } from '../errors.js';
import { FieldReader } from '../fields.js';
import { emptyFileError, readLineBatches } from '../lines.js';
import { eventTypeCode } from '../types.js';
import { ageBandOf } from './generic.js';
import { FirstSeen } from './first-seen.js';
import type { DatasetBuilder } from '../dataset.js';
import { Progress } from '../../util/progress.js';

/**
 * The MovieLens 100K layout: u.data (tab-separated user, item, rating, time), u.item (latin-1,
 * '|'-separated, 19 genre flags), u.user ('|'-separated age, gender, occupation, zip), u.genre.
 * Ratings become `rate` events with the rating as value.
 */
export async function loadMovieLens(
  dir: string,
  builder: DatasetBuilder,
  lenient?: SkipReport,
): Promise<{ files: string[]; categories: string[] }> {
  const genres = await readGenres(join(dir, 'u.genre'), lenient);
  await readItems(join(dir, 'u.item'), genres, builder, lenient);
  await readUsers(join(dir, 'u.user'), builder, lenient);
  await readRatings(join(dir, 'u.data'), builder, lenient);
  return { files: ['u.genre', 'u.item', 'u.user', 'u.data'].map((f) => join(dir, f)), categories: genres };
}

async function* pipeRecords(
  file: string,
  expected: number,
  encoding: 'utf8' | 'latin1',
  sep: string,
  lenient?: SkipReport,
): AsyncGenerator<[FieldReader, string[]]> {
  const f: FieldReader = new FieldReader(file, 0);
  let any = false;
  for await (const batch of readLineBatches(file, encoding, lenient)) {
    for (let i = 0; i < batch.lines.length; i++) {
      const text = batch.lines[i];
      if (text.length === 0) continue;
      any = true;
      f.line = batch.firstLine + i;
      const fields = text.split(sep);
      if (fields.length !== expected) {
        rejectRecord(
          new DataError(
            file,
            f.line,
            undefined,
            `expected ${expected} fields separated by ${JSON.stringify(sep)}, found ${fields.length}`,
          ),
          lenient,
        );
        continue;
      }
      yield [f, fields];
    }
  }
  if (!any) throw emptyFileError(file);
}

async function readGenres(file: string, lenient?: SkipReport): Promise<string[]> {
  const genres: string[] = [];
  for await (const [f, [name, id]] of pipeRecords(file, 2, 'utf8', '|', lenient)) {
    try {
      const i = f.requiredNumber('genre_id', id, 0);
      if (i !== genres.length)
        f.fail('genre_id', `expected ${genres.length}, found ${i} (genres must be listed in id order)`);
      genres.push(f.requiredString('genre', name));
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      rejectRecord(e, lenient);
    }
  }
  return genres;
}

async function readItems(file: string, genres: string[], builder: DatasetBuilder, lenient?: SkipReport): Promise<void> {
  const firstSeen = new FirstSeen('movie');
  for await (const [f, fields] of pipeRecords(file, 5 + genres.length, 'latin1', '|', lenient)) {
    try {
      const id = f.requiredString('movie_id', fields[0]);
      firstSeen.check(f, 'movie_id', id);
      const attributes: string[] = [];
      let category: string | undefined;
      for (let g = 0; g < genres.length; g++) {
        const flag = fields[5 + g];
        if (flag !== '0' && flag !== '1') f.fail(genres[g], `genre flag must be 0 or 1, found ${JSON.stringify(flag)}`);
        if (flag === '1') {
          attributes.push(`genre:${genres[g]}`);
          category ??= genres[g];
        }
      }
      const year = /(\d{4})$/.exec(fields[2])?.[1];
      if (year) attributes.push(`year:${year}`);
      firstSeen.record(id, f.line);
      builder.addItem({ id, category, attributes, text: fields[1], available: true });
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      rejectRecord(e, lenient);
    }
  }
}

async function readUsers(file: string, builder: DatasetBuilder, lenient?: SkipReport): Promise<void> {
  const firstSeen = new FirstSeen('user');
  for await (const [f, [id, ageRaw, gender, occupation, zip]] of pipeRecords(file, 5, 'utf8', '|', lenient)) {
    try {
      const age = f.requiredNumber('age', ageRaw, 0);
      const g = f.requiredString('gender', gender);
      if (g !== 'M' && g !== 'F') f.fail('gender', `expected M or F, found ${JSON.stringify(g)}`);
      const userId = f.requiredString('user_id', id);
      firstSeen.check(f, 'user_id', userId);
      firstSeen.record(userId, f.line);
      builder.addUser({
        id: userId,
        age,
        ageBand: ageBandOf(age),
        gender: g,
        region: /^\d/.test(zip) ? `zip${zip[0]}` : 'other',
        attributes: { occupation: f.requiredString('occupation', occupation), zip },
      });
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      rejectRecord(e, lenient);
    }
  }
}

async function readRatings(file: string, builder: DatasetBuilder, lenient?: SkipReport): Promise<void> {
  const rate = eventTypeCode('rate');
  const progress = new Progress(`load ${file}`, undefined, 'ratings');
  for await (const [f, [user, item, rating, ts]] of pipeRecords(file, 4, 'utf8', '\t', lenient)) {
    try {
      const value = f.requiredNumber('rating', rating);
      if (value < 1 || value > 5) f.fail('rating', `must be between 1 and 5, found ${value}`);
      const u = f.requiredString('user_id', user);
      const i = f.requiredString('item_id', item);
      if (!builder.hasItem(i)) f.fail('item_id', `item ${JSON.stringify(i)} is not in u.item`);
      builder.addEvent(u, i, rate, f.timestamp('timestamp', ts), value);
      progress.tick();
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      rejectRecord(e, lenient);
    }
  }
  progress.finish();
}
