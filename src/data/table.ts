import { extname } from 'node:path';
import { stat } from 'node:fs/promises';
import { readDelimitedRecords } from './csv.js';
import { DataError, SkipReport } from './errors.js';
import { emptyFileError, readLineBatches } from './lines.js';
import { Progress } from '../util/progress.js';

export interface ColumnSpec {
  name: string;
  aliases: readonly string[];
  required: boolean;
}

export interface Row {
  line: number;
  /** Values of the known columns, under their canonical names. */
  known: Record<string, unknown>;
  /** Columns the schema does not name, kept so that nothing is silently dropped. */
  extra: [string, unknown][];
}

export type TableFormat = 'csv' | 'tsv' | 'jsonl';

export function tableFormatOf(file: string): TableFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new DataError(file, 0, undefined, `unsupported file type "${ext}" (use .csv, .tsv or .jsonl)`);
}

function aliasIndex(spec: readonly ColumnSpec[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const c of spec) {
    m.set(c.name, c.name);
    for (const a of c.aliases) m.set(a, c.name);
  }
  return m;
}

const normaliseKey = (k: string): string =>
  k
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');

/**
 * Streams a CSV/TSV (with header) or JSONL file as rows keyed by canonical column names. Structural
 * problems (wrong field count, bad JSON) are reported like any other bad record: thrown in strict
 * mode, counted in lenient mode.
 */
export async function* readTable(
  file: string,
  spec: readonly ColumnSpec[],
  lenient: SkipReport | undefined,
  label: string,
): AsyncGenerator<Row[]> {
  const format = tableFormatOf(file);
  const aliases = aliasIndex(spec);
  const size = (await stat(file)).size;
  const progress = new Progress(label, size, 'bytes');
  let sawAny = false;
  // Lines lenient mode skipped while reading (undecodable ones) were records too: a file of nothing
  // else is not "empty", and the loader's "nothing loaded" error says what was skipped and why.
  const skippedBefore = lenient?.skipped ?? 0;
  const sawRecords = (): boolean => sawAny || (lenient?.skipped ?? 0) > skippedBefore;
  // Strict mode reports the first bad record in file order: the rows before it go to the loader
  // (whose field checks may fail first) before a structural fault found here is thrown.
  let failure: DataError | undefined;
  const reject = (err: DataError): void => {
    if (lenient) lenient.add(err);
    else failure = err;
  };

  if (format === 'jsonl') {
    for await (const batch of readLineBatches(file, 'utf8', lenient)) {
      const rows: Row[] = [];
      for (let i = 0; i < batch.lines.length; i++) {
        const text = batch.lines[i].trim();
        if (text.length === 0) continue;
        sawAny = true;
        const line = batch.firstLine + i;
        const row = jsonRow(file, line, text, aliases);
        if (row instanceof DataError) {
          reject(row);
          if (failure) break;
        } else rows.push(row);
      }
      progress.update(batch.bytesRead);
      if (rows.length > 0) yield rows;
      if (failure) throw failure;
    }
    progress.finish();
    if (!sawRecords()) throw emptyFileError(file);
    return;
  }

  const delimiter = format === 'csv' ? ',' : '\t';
  let header: string[] | undefined;
  let canon: (string | undefined)[] = [];
  for await (const records of readDelimitedRecords(file, delimiter, 'utf8', lenient, (b) => progress.update(b), true)) {
    const rows: Row[] = [];
    for (const rec of records) {
      if (!header) {
        header = rec.fields.map((h) => h.trim());
        canon = canonicalHeader(file, rec.line, header, aliases, spec);
        continue;
      }
      sawAny = true;
      if (rec.fields.length !== header.length) {
        reject(
          new DataError(
            file,
            rec.line,
            undefined,
            `expected ${header.length} fields as in the header, found ${rec.fields.length}`,
          ),
        );
        if (failure) break;
        continue;
      }
      const known: Record<string, unknown> = {};
      const extra: [string, unknown][] = [];
      for (let j = 0; j < header.length; j++) {
        const c = canon[j];
        if (c !== undefined) known[c] = rec.fields[j];
        else if (rec.fields[j] !== '') extra.push([header[j], rec.fields[j]]);
      }
      rows.push({ line: rec.line, known, extra });
    }
    if (rows.length > 0) yield rows;
    if (failure) throw failure;
  }
  progress.finish();
  if (!header) {
    if (sawRecords()) return;
    throw emptyFileError(file);
  }
  if (!sawRecords()) throw new DataError(file, 0, undefined, 'has a header but no records');
}

/** One JSONL record as a row, or the fault that makes it not one. */
function jsonRow(file: string, line: number, text: string, aliases: Map<string, string>): Row | DataError {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    return new DataError(file, line, undefined, `not valid JSON (${(e as Error).message})`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    return new DataError(file, line, undefined, 'each line must be a JSON object');
  const known: Record<string, unknown> = {};
  const extra: [string, unknown][] = [];
  const from: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const canon = aliases.get(normaliseKey(k));
    if (canon === undefined) {
      extra.push([k, v]);
      continue;
    }
    if (from[canon] !== undefined)
      return new DataError(
        file,
        line,
        canon,
        `keys "${from[canon]}" and "${k}" both name this field; keep one (or rename the other)`,
      );
    from[canon] = k;
    known[canon] = v;
  }
  return { line, known, extra };
}

/**
 * The canonical field of each header column (undefined for a column the schema does not know), after
 * refusing a header that names one field twice, names an unknown column twice, or lacks a required one.
 */
function canonicalHeader(
  file: string,
  line: number,
  header: string[],
  aliases: Map<string, string>,
  spec: readonly ColumnSpec[],
): (string | undefined)[] {
  const canon = header.map((h) => aliases.get(normaliseKey(h)));
  // Two columns for one field (product_id and sku, say): which one is meant cannot be guessed.
  canon.forEach((c, j) => {
    const first = c === undefined ? -1 : canon.indexOf(c);
    if (first >= 0 && first < j)
      throw new DataError(
        file,
        line,
        c,
        `columns "${header[first]}" and "${header[j]}" both name this field; keep one (or rename the other)`,
      );
  });
  // Two columns of one name the schema does not know would collapse into one kept value
  // (unnamed ones aside: spreadsheets export trailing empty header cells).
  header.forEach((h, j) => {
    const first = header.indexOf(h);
    if (canon[j] === undefined && h !== '' && first < j)
      throw new DataError(
        file,
        line,
        h,
        `the header names this column twice (columns ${first + 1} and ${j + 1}); rename one`,
      );
  });
  for (const c of spec) {
    if (c.required && !canon.includes(c.name)) {
      throw new DataError(
        file,
        line,
        c.name,
        `required column is missing (header has: ${header.join(', ')}; accepted names: ${[c.name, ...c.aliases].join(', ')})`,
      );
    }
  }
  return canon;
}
