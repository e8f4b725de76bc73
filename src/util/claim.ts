import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { alive } from './pid.js';

export interface Claim {
  /** The claimed path (not created: the claim is a hidden file beside it). */
  path: string;
  /** Gives the name up (after the output was written under it, or on failure). */
  release: () => void;
}

/**
 * Claims the first of `base`, `base-2`, `base-3`, ... in `dir` that neither exists nor is claimed by a
 * running process, with a hidden `.<name>.claim` file holding our pid. A build takes minutes to fill
 * its output, and two started within one second must not pick one name; a hidden file rather than an
 * empty directory means that a process killed mid-build (Ctrl-C) leaves no half-made output, and the
 * next claim in `dir` removes the claims of processes that are gone.
 */
export function claimName(dir: string, base: string): Claim {
  mkdirSync(dir, { recursive: true });
  removeStaleClaims(dir);
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    const path = join(dir, name);
    if (existsSync(path)) continue;
    const claimFile = join(dir, `.${name}.claim`);
    let fd: number;
    try {
      fd = openSync(claimFile, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return { path, release: () => rmSync(claimFile, { force: true }) };
  }
}

function removeStaleClaims(dir: string): void {
  for (const entry of readdirSync(dir)) {
    if (!/^\..+\.claim$/.test(entry)) continue;
    const file = join(dir, entry);
    try {
      const pid = Number(readFileSync(file, 'utf8').trim());
      // This process's own claims are live (one process may claim several names).
      if (pid !== process.pid && !alive(pid)) rmSync(file, { force: true });
    } catch {
      // Removed by another process meanwhile.
    }
  }
}
