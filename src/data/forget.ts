import { readFileSync } from 'node:fs';
import { VitrineError } from '../protocol/errors.js';
import { Pseudonyms } from '../util/pseudonym.js';
import { type Dataset, withoutUsers } from './dataset.js';

/**
 * The shoppers a running server was asked to forget, from the JSON its `GET /admin/forgotten` answers
 * ({"algorithm": "hmac-sha256", "salt": ..., "pseudonyms": [...]}): a test of whether an id is one of
 * them. The file holds keyed hashes, never the ids.
 */
export function readTombstones(path: string): (id: string) => boolean {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new VitrineError('invalid_argument', `--forget ${path}: not readable JSON (${(e as Error).message})`);
  }
  // The admin call wraps it in a reply; the file may be either.
  const o = (raw as { result?: unknown })?.result ?? raw;
  const t = o as { algorithm?: unknown; salt?: unknown; pseudonyms?: unknown };
  if (
    t.algorithm !== 'hmac-sha256' ||
    typeof t.salt !== 'string' ||
    !Array.isArray(t.pseudonyms) ||
    !t.pseudonyms.every((p) => typeof p === 'string')
  ) {
    throw new VitrineError(
      'invalid_argument',
      `--forget ${path}: expected the tombstones GET /admin/forgotten answers ({"algorithm": "hmac-sha256", "salt", "pseudonyms": [...]})`,
    );
  }
  const names = new Pseudonyms(t.salt);
  const set = new Set(t.pseudonyms as string[]);
  return (id) => set.has(names.of(id));
}

/** The data set without the forgotten shoppers of `path`. */
export function forgetShoppers(ds: Dataset, path: string): { dataset: Dataset; users: number; events: number } {
  return withoutUsers(ds, readTombstones(path));
}
