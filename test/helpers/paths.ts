import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** A shared real data set; fails loudly (rather than skipping) when the data is not where CI puts it. */
export function sharedData(name: string): string {
  const dir = resolve(process.env.VITRINE_DATA ?? join(repoRoot, '..', 'shared', 'data'), name);
  if (!existsSync(dir))
    throw new Error(
      `data set ${name} not found at ${dir}; set VITRINE_DATA to the folder holding ml-100k and amazon-beauty`,
    );
  return dir;
}

export function tempDir(prefix = 'vitrine-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export const cliPath = join(repoRoot, 'dist', 'cli', 'main.js');
