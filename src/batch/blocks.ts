/**
 * A block's output (users × min(k, items) rows) is built as one string, and V8 caps a string's
 * length (~2^29 characters): past this many rows a CSV block with segments could exceed it.
 */
export const MAX_BLOCK_ROWS = 1 << 18;

/**
 * Users per block so that a block's users × items scores stay around 25 MB (measured on 100k items,
 * 64-user blocks ran 2.1× faster than 256-user ones: the bigger matrix falls out of cache), and its
 * output stays within MAX_BLOCK_ROWS.
 */
export function blockSizeFor(numItems: number, k: number): number {
  const users = 6_400_000 / Math.max(1, numItems);
  const bySize = Math.max(16, Math.min(1024, 2 ** Math.round(Math.log2(users))));
  return Math.min(bySize, maxBlockUsers(numItems, k));
}

/** The most users a block may hold for its output to stay within MAX_BLOCK_ROWS. */
export function maxBlockUsers(numItems: number, k: number): number {
  return Math.max(1, Math.floor(MAX_BLOCK_ROWS / Math.max(1, Math.min(k, numItems))));
}
