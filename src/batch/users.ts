import { existsSync, statSync } from 'node:fs';
import { readLineBatches } from '../data/lines.js';
import { VitrineError } from '../protocol/errors.js';
import { warn } from '../util/progress.js';

/** Checks a --users file before the minutes spent loading and measuring. */
export function checkUsersFile(path: string): void {
  if (!existsSync(path)) throw new VitrineError('not_found', `--users ${path}: no such file`);
  if (!statSync(path).isFile())
    throw new VitrineError(
      'invalid_argument',
      `--users ${path}: is a directory; name a file of user ids, one per line`,
    );
}

export async function readUserIds(path: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const batch of readLineBatches(path, 'utf8'))
    for (const l of batch.lines) if (l.trim()) ids.push(l.trim());
  if (ids.length === 0)
    throw new VitrineError('invalid_argument', `--users ${path}: no user ids (one per line expected)`);
  return ids;
}

/**
 * A users file with ids the bundle never saw (a typo'd column, the wrong shop) or with repeats is
 * still scored as given, in its order, but the user is told rather than left to find out from the
 * output: unknown ids get trending items, repeats are scored once per line.
 */
export function reportUserIds(
  path: string,
  ids: readonly string[],
  known: ReadonlyMap<string, number>,
): { unknown: number; repeated: number } {
  const unknown = ids.filter((id) => !known.has(id));
  const repeated = ids.length - new Set(ids).size;
  if (unknown.length > 0) {
    const eg = unknown
      .slice(0, 3)
      .map((id) => JSON.stringify(id))
      .join(', ');
    warn(
      `--users ${path}: ${unknown.length} of ${ids.length} ids are not in the bundle (e.g. ${eg}); they get trending items, marked cold start`,
    );
  }
  if (repeated > 0) warn(`--users ${path}: ${repeated} ids repeat an earlier line; each line gets its own output`);
  return { unknown: unknown.length, repeated };
}
