import { createReadStream } from 'node:fs';
import { DataError, SkipReport } from './errors.js';

export type TextEncoding = 'utf8' | 'latin1';

export interface LineBatch {
  /** Decoded lines without their terminators (LF or CRLF). */
  lines: string[];
  /** 1-based line number of lines[0]. */
  firstLine: number;
  /** Bytes of the file consumed so far, for progress bars. */
  bytesRead: number;
  /**
   * Lenient mode: indices of lines that could not be decoded (counted as skipped already, passed
   * on as ''), so a record spanning lines can be dropped whole rather than loaded with a hole.
   */
  rejected: number[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const latin1 = new TextDecoder('latin1');

/**
 * Streams a text file as batches of lines, so files larger than memory load. UTF-8 is decoded
 * strictly: a bad byte sequence is a DataError naming the line (or, when lenient, that line is
 * skipped and counted), never silently replaced by U+FFFD. With `hasHeader`, a bad sequence before
 * the first non-blank line is fatal even when lenient: skipping the header would silently promote
 * the first record to column names.
 */
export async function* readLineBatches(
  file: string,
  encoding: TextEncoding,
  lenient?: SkipReport,
  hasHeader = false,
): AsyncGenerator<LineBatch> {
  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  let carry: Buffer | undefined;
  let lineNo = 1;
  let bytesRead = 0;
  let first = true;
  let sawContent = false;
  const isContent = (l: string): boolean => l.trim().length > 0;

  /**
   * Strict mode stops at the first line that cannot be decoded, but only after the lines before it
   * were handed on: the first bad record in file order is the one reported, whatever its fault.
   */
  const decodeBlock = (block: Buffer): { lines: string[]; rejected: number[]; error?: DataError } => {
    if (encoding === 'latin1') return { lines: latin1.decode(block).split('\n'), rejected: [] };
    try {
      return { lines: utf8.decode(block).split('\n'), rejected: [] };
    } catch {
      // Slow path only for a block that holds a bad sequence: find and report the exact line.
      const out: string[] = [];
      const rejected: number[] = [];
      let start = 0;
      let n = lineNo;
      for (;;) {
        const nl = block.indexOf(10, start);
        const end = nl === -1 ? block.length : nl;
        try {
          const line = utf8.decode(block.subarray(start, end));
          sawContent ||= isContent(line);
          out.push(line);
        } catch {
          const inHeader = hasHeader && !sawContent;
          const error = new DataError(
            file,
            n,
            undefined,
            `invalid UTF-8 byte sequence${inHeader ? ' in the header line, which cannot be skipped' : ''} (if the file is latin-1, convert it or use a loader that reads latin-1)`,
          );
          if (inHeader || !lenient) return { lines: out, rejected, error };
          lenient.add(error);
          rejected.push(out.length);
          out.push('');
        }
        if (nl === -1) break;
        start = nl + 1;
        n++;
      }
      return { lines: out, rejected };
    }
  };

  async function* emit(block: Buffer): AsyncGenerator<LineBatch> {
    const { lines, rejected, error } = decodeBlock(block);
    if (!sawContent) sawContent = lines.some(isContent);
    if (first) {
      first = false;
      if (lines.length > 0 && lines[0].charCodeAt(0) === 0xfeff) lines[0] = lines[0].slice(1);
    }
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      if (l.length > 0 && l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
    }
    if (lines.length > 0) yield { lines, firstLine: lineNo, bytesRead, rejected };
    lineNo += lines.length;
    if (error) throw error;
  }

  // A read on the open stream (of a directory, say) fails without the path: name the file.
  stream.on('error', (e: NodeJS.ErrnoException) => {
    e.path ??= file;
  });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytesRead += chunk.length;
    const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
    const lastNl = buf.lastIndexOf(10);
    if (lastNl === -1) {
      carry = buf;
      continue;
    }
    carry = lastNl + 1 < buf.length ? Buffer.from(buf.subarray(lastNl + 1)) : undefined;
    yield* emit(buf.subarray(0, lastNl));
  }
  if (carry && carry.length > 0) yield* emit(carry);
}

/** Throws the standard "empty file" error when a loader saw no non-blank line. */
export function emptyFileError(file: string): DataError {
  return new DataError(file, 0, undefined, 'file is empty (no records)');
}
