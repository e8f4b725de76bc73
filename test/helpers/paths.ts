import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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

const made: string[] = [];

export function tempDir(prefix = 'vitrine-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes what tempDir made in this test file; test/setup/temp-dirs.ts runs it after the file's own hooks. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export const cliPath = join(repoRoot, 'dist', 'cli', 'main.js');
