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

/**
 * Whether a line that continues an open quoted field leaves a quoted field open at its end (the
 * same rules as splitDelimited), so a record spanning lines is scanned once, not re-split whole at
 * every line it gains.
 */
function stillQuoted(line: string, delimiter: string): boolean {
  let quoted = true;
  let fieldStart = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch !== '"') continue;
      if (line[i + 1] === '"') i++;
      else quoted = false;
    } else if (ch === '"' && fieldStart) {
      quoted = true;
    } else if (line.startsWith(delimiter, i)) {
      fieldStart = true;
      i += delimiter.length - 1;
    } else {
      fieldStart = false;
    }
  }
  return quoted;
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
  let pending: string[] | undefined;
  let pendingLine = 0;
  let pendingChars = 0;
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
        const fields = splitDelimited(raw, delimiter);
        if (fields !== null) {
          out.push({ fields, line: lineNo });
          continue;
        }
        pending = [raw];
        pendingLine = lineNo;
        pendingChars = raw.length;
        pendingRejected = false;
        continue;
      }
      pending.push(raw);
      pendingChars += raw.length + 1;
      pendingRejected ||= rejected;
      if (!stillQuoted(raw, delimiter)) {
        const fields = splitDelimited(pending.join('\n'), delimiter);
        if (fields !== null && !pendingRejected) out.push({ fields, line: pendingLine });
        pending = undefined;
        continue;
      }
      if (pendingChars > MAX_QUOTED_RECORD_CHARS) {
        throw new DataError(file, pendingLine, undefined, `a quoted field opened on this line is still open ${lineNo - pendingLine} lines and over ${MAX_QUOTED_RECORD_CHARS / (1 << 20)} MiB later (missing closing ")`);
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
