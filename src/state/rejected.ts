import { existsSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';

/**
 * Rewrites `path` (the event log's `<log>.rejected`: lines kept aside because they were not valid
 * entries) without the lines that mention any of `needles` (a forgotten shopper's id or pseudonym),
 * through a temporary file renamed over it and fsynced. Such a line may be torn JSON, so it is matched
 * as text, not parsed.
 */
export async function dropLinesMentioning(path: string, needles: readonly string[]): Promise<number> {
  if (!existsSync(path)) return 0;
  const lines = readFileSync(path, 'utf8').split('\n');
  const quoted = needles.flatMap((n) => [n, JSON.stringify(n).slice(1, -1)]);
  const kept = lines.filter((l) => !quoted.some((n) => n.length > 0 && l.includes(n)));
  const dropped = lines.length - kept.length;
  if (dropped === 0) return 0;
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, kept.join('\n'));
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return dropped;
}
