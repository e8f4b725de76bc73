import { DataError, SkipReport } from './errors.js';
import { readLineBatches, type TextEncoding } from './lines.js';

export interface CsvRecord {
  fields: string[];
  /** 1-based line where the record starts. */
  line: number;
}

/**
 * One delimited record read piece by piece (RFC 4180 quoting: "a,b" and doubled "" inside quotes),
 * so a record spanning lines is scanned once as its lines arrive, not re-split whole at each one.
 */
class RecordScanner {
  private readonly fields: string[] = [];
  private field = '';
  private quoted = false;
  /** Characters fed so far: where a runaway quoted field is cut off. */
  chars = 0;

  constructor(private readonly delimiter: string) {}

  /** Feeds the next piece; returns the fields once the record ends here, null while a quoted field is open. */
  feed(text: string): string[] | null {
    this.chars += text.length;
    let i = 0;
    while (i < text.length) {
      const ch = text[i];
      if (this.quoted) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            this.field += '"';
            i += 2;
            continue;
          }
          this.quoted = false;
          i++;
          continue;
        }
        this.field += ch;
        i++;
      } else if (ch === '"' && this.field.length === 0) {
        this.quoted = true;
        i++;
      } else if (text.startsWith(this.delimiter, i)) {
        this.fields.push(this.field);
        this.field = '';
        i += this.delimiter.length;
      } else {
        this.field += ch;
        i++;
      }
    }
    if (this.quoted) return null;
    this.fields.push(this.field);
    return this.fields;
  }
}

/**
 * A quoted field may span lines, but one stray quote would otherwise swallow the rest of the file
 * into a single record held in memory; past this many characters the open quote is reported.
 */
export const MAX_QUOTED_RECORD_CHARS = 1 << 20;

/**
 * Streams delimited records in batches; quoted fields may span lines. Blank lines are not records.
 * In lenient mode a record with a line that could not be decoded is dropped whole (the line was
 * counted as skipped where it was read).
 */
export async function* readDelimitedRecords(
  file: string,
  delimiter: string,
  encoding: TextEncoding,
  lenient?: SkipReport,
  onBytes?: (bytes: number) => void,
  hasHeader = false,
): AsyncGenerator<CsvRecord[]> {
  let pending: RecordScanner | undefined;
  let pendingLine = 0;
  let pendingRejected = false;
  for await (const batch of readLineBatches(file, encoding, lenient, hasHeader)) {
    const out: CsvRecord[] = [];
    let r = 0;
    for (let i = 0; i < batch.lines.length; i++) {
      const lineNo = batch.firstLine + i;
      const raw = batch.lines[i];
      const rejected = r < batch.rejected.length && batch.rejected[r] === i;
      if (rejected) r++;
      if (pending === undefined) {
        if (raw.length === 0) continue;
        if (raw.indexOf('"') === -1) {
          out.push({ fields: raw.split(delimiter), line: lineNo });
          continue;
        }
        const scanner = new RecordScanner(delimiter);
        const fields = scanner.feed(raw);
        if (fields !== null) out.push({ fields, line: lineNo });
        else {
          pending = scanner;
          pendingLine = lineNo;
          pendingRejected = false;
        }
        continue;
      }
      pendingRejected ||= rejected;
      const fields = pending.feed(`\n${raw}`);
      if (fields !== null) {
        if (!pendingRejected) out.push({ fields, line: pendingLine });
        pending = undefined;
        continue;
      }
      if (pending.chars > MAX_QUOTED_RECORD_CHARS) {
        throw new DataError(
          file,
          pendingLine,
          undefined,
          `a quoted field opened on this line is still open ${lineNo - pendingLine} lines and over ${MAX_QUOTED_RECORD_CHARS / (1 << 20)} MiB later (missing closing ")`,
        );
      }
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
