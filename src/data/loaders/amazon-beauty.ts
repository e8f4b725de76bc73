import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, SkipReport, rejectRecord } from '../errors.js';
import { FieldReader } from '../fields.js';
import { emptyFileError, readLineBatches } from '../lines.js';
import { eventTypeCode } from '../types.js';
import type { DatasetBuilder } from '../dataset.js';
import { FirstSeen } from './first-seen.js';

/**
 * The Amazon Beauty 5-core layout of the S3-Rec papers: Beauty.txt (user then items in time order),
 * Beauty_time.txt (user then one Unix time per item, CRLF), Beauty_item2attributes.json (item ->
 * anonymised attribute ids). Every review is a `purchase`.
 */
export async function loadAmazonBeauty(
  dir: string,
  builder: DatasetBuilder,
  lenient?: SkipReport,
): Promise<{ files: string[] }> {
  const seqFile = join(dir, 'Beauty.txt');
  const timeFile = join(dir, 'Beauty_time.txt');
  const attrFile = join(dir, 'Beauty_item2attributes.json');

  let attrs: unknown;
  try {
    attrs = JSON.parse(await readFile(attrFile, 'utf8'));
  } catch (e) {
    throw new DataError(attrFile, 0, undefined, `not a readable JSON object (${(e as Error).message})`);
  }
  if (attrs === null || typeof attrs !== 'object' || Array.isArray(attrs))
    throw new DataError(attrFile, 0, undefined, 'must be a JSON object of item id -> attribute ids');
  const entries = Object.entries(attrs as Record<string, unknown>).sort((a, b) => Number(a[0]) - Number(b[0]));
  for (const [id, list] of entries) {
    if (!Array.isArray(list)) throw new DataError(attrFile, 0, id, 'attributes must be an array of ids');
    builder.addItem({ id, attributes: list.map((a) => `attr:${String(a)}`), available: true });
  }

  const times = new Map<string, string[]>();
  const timeLines = new FirstSeen('user');
  const tf: FieldReader = new FieldReader(timeFile, 0);
  let any = false;
  for await (const batch of readLineBatches(timeFile, 'utf8', lenient)) {
    for (let i = 0; i < batch.lines.length; i++) {
      const line = batch.lines[i];
      if (line.length === 0) continue;
      any = true;
      tf.line = batch.firstLine + i;
      const [user, ...ts] = line.trim().split(' ');
      try {
        timeLines.check(tf, 'user_id', user);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        rejectRecord(e, lenient);
        continue;
      }
      timeLines.record(user, tf.line);
      times.set(user, ts);
    }
  }
  if (!any) throw emptyFileError(timeFile);

  const purchase = eventTypeCode('purchase');
  const f: FieldReader = new FieldReader(seqFile, 0);
  any = false;
  for await (const batch of readLineBatches(seqFile, 'utf8', lenient)) {
    for (let i = 0; i < batch.lines.length; i++) {
      const line = batch.lines[i];
      if (line.length === 0) continue;
      any = true;
      f.line = batch.firstLine + i;
      try {
        const [user, ...items] = line.trim().split(' ');
        const ts = times.get(user);
        if (!ts) f.fail('user_id', `user ${JSON.stringify(user)} has no line in Beauty_time.txt`);
        if (ts.length !== items.length)
          f.fail(undefined, `${items.length} items but ${ts.length} timestamps in Beauty_time.txt`);
        const parsed = ts.map((t) => f.timestamp('timestamp', t));
        for (let j = 0; j < items.length; j++)
          builder.addEvent(user, f.requiredString('item_id', items[j]), purchase, parsed[j]);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        rejectRecord(e, lenient);
      }
    }
  }
  if (!any) throw emptyFileError(seqFile);
  return { files: [seqFile, timeFile, attrFile] };
}
