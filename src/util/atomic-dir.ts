import { existsSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { alive } from './pid.js';

/**
 * Builds `outDir` in a hidden sibling (`.<name>.tmp-<pid>`) and renames it into place once `fill`
 * has written everything, so a reader never sees a half-written directory. An earlier `outDir` is
 * moved aside before the new one takes its name and removed after: a crash between the two renames
 * leaves it as `.<name>.old-<pid>` rather than deleted. A failed or interrupted `fill` removes its
 * temporary directory; one left by a killed process is removed by the next write to the same path.
 */
export async function writeDirAtomically<T>(outDir: string, fill: (tmp: string) => Promise<T>): Promise<T> {
  const parent = dirname(outDir);
  const name = basename(outDir);
  removeLeftovers(parent, name, existsSync(outDir));
  const tmp = join(parent, `.${name}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  // Ctrl-C would otherwise end the process with the temporary directory (possibly gigabytes) left
  // behind. Removed, then the signal is raised again so the process ends as it would have.
  const onSignal = (signal: NodeJS.Signals): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    try {
      rmSync(tmp, { recursive: true, force: true });
    } catch {
      // A write still landing in it; the next write to this path removes what is left.
    }
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let result: T;
  try {
    result = await fill(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const old = join(parent, `.${name}.old-${process.pid}`);
  const replacing = existsSync(outDir);
  try {
    if (replacing) await rename(outDir, old);
    try {
      await rename(tmp, outDir);
    } catch (e) {
      if (replacing) await rename(old, outDir);
      throw e;
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
  if (replacing) await rm(old, { recursive: true, force: true });
  return result;
}

/**
 * Removes the temporary directories of writes to `parent/name` whose process is gone, and the moved-aside
 * old copies of swaps that completed (`name` exists again). An old copy without a successor is kept: it may be the only one.
 */
function removeLeftovers(parent: string, name: string, outExists: boolean): void {
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  const prefix = `.${name}.`;
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const m = /^(tmp|old)-(\d+)$/.exec(entry.slice(prefix.length));
    if (!m || alive(Number(m[2]))) continue;
    if (m[1] === 'tmp' || outExists) rmSync(join(parent, entry), { recursive: true, force: true });
  }
}
