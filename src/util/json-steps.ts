import type { Steps } from './steps.js';

/** Bytes of a large array's text parsed between two yields of parseJsonSteps (~10-20 ms a step here). */
const STEP_BYTES = 1 << 20;

/**
 * JSON.parse of UTF-8 bytes, in steps where the text is a large top-level array (a bundle's
 * catalogue: 16 MB, ~70 ms to decode and ~230 ms to parse in one call on a 100k-item shop). The
 * bytes are cut between top-level elements (a scan that follows strings and nesting; in UTF-8 no
 * byte of a multi-byte character is an ASCII one) and each run of elements is decoded and parsed on
 * its own. Anything else, or a text the scan cannot follow, is parsed in one call, so a malformed
 * text fails as JSON.parse fails.
 */
export function* parseJsonSteps(bytes: Uint8Array): Steps<unknown> {
  let start = 0;
  while (start < bytes.length && isSpace(bytes[start])) start++;
  if (bytes.length < STEP_BYTES || bytes[start] !== 0x5b) return JSON.parse(decode(bytes, 0, bytes.length));
  const out: unknown[] = [];
  // `from`: where the elements not yet parsed begin; `depth` counts the array's own bracket.
  let from = start + 1;
  let depth = 0;
  let inString = false;
  for (let i = start; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (--depth > 0) continue;
      // The array must close with `]`, with nothing after it, and only an empty array may end empty.
      let trailing = c !== 0x5d || (out.length > 0 && blank(bytes, from, i));
      for (let j = i + 1; j < bytes.length && !trailing; j++) trailing = !isSpace(bytes[j]);
      if (trailing || !appendElements(out, bytes, from, i)) return JSON.parse(decode(bytes, 0, bytes.length));
      return out;
    } else if (c === 0x2c && depth === 1 && i - from >= STEP_BYTES) {
      if (blank(bytes, from, i) || !appendElements(out, bytes, from, i))
        return JSON.parse(decode(bytes, 0, bytes.length));
      from = i + 1;
      yield;
    }
  }
  return JSON.parse(decode(bytes, 0, bytes.length));
}

/** Parses a run of elements onto `out`; false (nothing added) when the run is not valid on its own. */
function appendElements(out: unknown[], bytes: Uint8Array, from: number, to: number): boolean {
  let part: unknown[];
  try {
    part = JSON.parse(`[${decode(bytes, from, to)}]`) as unknown[];
  } catch {
    return false;
  }
  for (const v of part) out.push(v);
  return true;
}

function blank(bytes: Uint8Array, from: number, to: number): boolean {
  for (let j = from; j < to; j++) if (!isSpace(bytes[j])) return false;
  return true;
}

const decode = (bytes: Uint8Array, from: number, to: number): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('utf8');

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
