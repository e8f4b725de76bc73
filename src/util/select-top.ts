import { topK } from './topk.js';

/** Positions fit in the low 20 bits of a sort key (scan groups hold far fewer items). */
const INDEX_BITS = 2 ** 20;
const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);
/** Reused between calls (a serving worker makes one a request): grown, never shrunk. */
let keyScratch = new Float64Array(1024);

/** float32 → an unsigned integer in the same order (negative numbers flipped, positive ones above). */
function sortable(v: number): number {
  asFloat[0] = v;
  const b = bits[0];
  return b >= 0x80000000 ? 0xffffffff - b : b + 0x80000000;
}

/**
 * The positions of the k largest of `n` scores from `offset`, best first, ties to the lower
 * position: what topK returns, for a large k over a few thousand scores. topK's heap pays a
 * sift-down for most of the k best and a comparator sort at the end (52 µs for 200 of 8,185 here);
 * this keeps the scores above a threshold read from a strided sample (about 1.5k of them), packs
 * each with its position into one float64 key and sorts those natively (~15 µs). When the sample
 * misjudges (fewer than k pass, or thousands tie at the threshold), it falls back to topK.
 */
export function selectTop(scores: Float32Array, offset: number, n: number, k: number): Int32Array {
  const want = Math.min(k, n);
  if (want <= 0) return new Int32Array(0);
  if (n >= INDEX_BITS || want * 4 > n) return topK(scores, want, undefined, offset, n);
  const stride = Math.max(1, Math.floor(n / 256));
  const sample = new Float32Array(Math.ceil(n / stride));
  for (let s = 0; s < sample.length; s++) sample[s] = scores[offset + s * stride];
  sample.sort();
  const rank = Math.min(sample.length - 1, Math.ceil((1.5 * want + 32) / stride));
  const threshold = sample[sample.length - 1 - rank];
  if (keyScratch.length < n) keyScratch = new Float64Array(n);
  const keys = keyScratch;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = scores[offset + i];
    // NaN fails the comparison, so it never ranks.
    if (v >= threshold) keys[count++] = sortable(v) * INDEX_BITS + (INDEX_BITS - 1 - i);
  }
  // Too few passed, or far too many (scores tied at the threshold, e.g. a zero query's): the heap
  // is exact either way, and cheaper than sorting thousands of keys. The bound is a margin over
  // the ~1.5k expected, chosen, not tuned.
  if (count < want || count > 8 * want + 256) return topK(scores, want, undefined, offset, n);
  const kept = keys.subarray(0, count).sort();
  const out = new Int32Array(want);
  for (let r = 0; r < want; r++) out[r] = INDEX_BITS - 1 - (kept[count - 1 - r] % INDEX_BITS);
  return out;
}
