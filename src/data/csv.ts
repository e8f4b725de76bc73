import { DataError, SkipReport } from './errors.js';
import { readLineBatches, type TextEncoding } from './lines.js';

export interface CsvRecord {
  fields: string[];
  /** 1-based line where the record starts. */
  line: number;
}

/**
 * Splits one delimited record (RFC 4180 quoting: "a,b" and doubled "" inside quotes).
 * Returns null when a quoted field is still open at the end, so the caller can join the next line.
 */
export function splitDelimited(text: string, delimiter: string): string[] | null {
  if (text.indexOf('"') === -1) return text.split(delimiter);
  const out: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += ch;
      i++;
    } else if (ch === '"' && field.length === 0) {
      quoted = true;
      i++;
    } else if (text.startsWith(delimiter, i)) {
      out.push(field);
      field = '';
      i += delimiter.length;
    } else {
      field += ch;
      i++;
    }
  }
  if (quoted) return null;
  out.push(field);
  return out;
}

/** Streams delimited records in batches; quoted fields may span lines. Blank lines are not records. */
export async function* readDelimitedRecords(
  file: string,
  delimiter: string,
  encoding: TextEncoding,
  lenient?: SkipReport,
  onBytes?: (bytes: number) => void,
  hasHeader = false,
): AsyncGenerator<CsvRecord[]> {
  let pending: string | undefined;
  let pendingLine = 0;
  for await (const batch of readLineBatches(file, encoding, lenient, hasHeader)) {
    const out: CsvRecord[] = [];
    for (let i = 0; i < batch.lines.length; i++) {
      const lineNo = batch.firstLine + i;
      const raw = batch.lines[i];
      const text = pending !== undefined ? `${pending}\n${raw}` : raw;
      if (pending === undefined && raw.length === 0) continue;
      const fields = splitDelimited(text, delimiter);
      if (fields === null) {
        if (pending === undefined) pendingLine = lineNo;
        pending = text;
        continue;
      }
      out.push({ fields, line: pending !== undefined ? pendingLine : lineNo });
      pending = undefined;
    }
    onBytes?.(batch.bytesRead);
    if (out.length > 0) yield out;
  }
  if (pending !== undefined) {
    throw new DataError(file, pendingLine, undefined, 'quoted field is never closed (missing ")');
  }
}

/** Quotes a field for CSV output only when it needs it. */
export function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
