import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The Vitrine project (the directory holding its package.json), found from this module (src/util or
 * dist/util), so that defaults such as the demo's models and the synthetic-shop cache land in the
 * project whatever the working directory.
 */
export function projectRoot(): string {
  return fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
}

/** A path under the project, unless `override` (an environment variable's value) names one. */
export function projectPath(override: string | undefined, ...parts: string[]): string {
  return override ? resolve(override) : resolve(projectRoot(), ...parts);
}
