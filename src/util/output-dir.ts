import { accessSync, constants, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from './errors.js';

/**
 * Checks, before any work, that an output directory may be written and replaced: it is absent,
 * empty, or an earlier output of the same kind (it holds `marker`). Anything else is someone's data,
 * and the atomic replace at the end of a build would delete it.
 */
export function prepareOutputDir(dir: string, marker: string, what: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UserError(`${dir} is a file, not ${what}; refusing to replace it (choose another output path)`);
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(marker)) throw new UserError(`${dir} already holds files and is not ${what} (no ${marker}); refusing to replace it (choose another output path, or remove it yourself)`);
  }
  const parent = dirname(dir);
  try {
    mkdirSync(parent, { recursive: true });
  } catch (e) {
    throw new UserError(`${dir} cannot be created: ${(e as NodeJS.ErrnoException).code === 'EEXIST' ? `${parent} is not a directory` : (e as Error).message}`);
  }
  try {
    accessSync(parent, constants.W_OK);
  } catch {
    throw new UserError(`${parent}: not writable, so ${dir} cannot be written`);
  }
}
