import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { VitrineError } from '../protocol/errors.js';
import { makeDirs } from '../util/output-dir.js';
import { alive } from '../util/pid.js';

interface Holder {
  pid: number;
  host: string;
  since: string;
}

/**
 * Takes `<path>.lock` for this process: the event log has one writer. A second server on the same
 * log would replay it, rewrite it under the first one's feet (the first then appends to a file that
 * no longer has a name, and its acknowledged events vanish at its next start). A lock whose process
 * is gone (kill -9) is taken over; one held by a live process is refused, naming it.
 */
export function lockLog(path: string): { release: () => void } {
  const lock = `${path}.lock`;
  const me: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  makeDirs(dirname(path));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return { release: () => rmSync(lock, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new VitrineError(
          'io_error',
          `--event-log ${path}: cannot take its lock ${lock} (${(e as Error).message})`,
        );
    }
    let holder: Partial<Holder> = {};
    try {
      holder = JSON.parse(readFileSync(lock, 'utf8')) as Partial<Holder>;
    } catch {
      // Half-written by a process killed while taking it: stale.
    }
    // A holder on another machine (a shared disk) cannot be checked: it is taken to be alive.
    const elsewhere = holder.host !== undefined && holder.host !== me.host;
    if (elsewhere) {
      throw new VitrineError(
        'conflict',
        `--event-log ${path} is held by process ${holder.pid} on ${holder.host} (since ${holder.since}); if that process is gone, remove ${lock}`,
      );
    }
    if (typeof holder.pid === 'number' && alive(holder.pid)) {
      throw new VitrineError(
        'conflict',
        `--event-log ${path} is held by process ${holder.pid} on ${holder.host} (since ${holder.since}): one server writes an event log; run several replicas with --store redis://... instead`,
      );
    }
    rmSync(lock, { force: true });
  }
  throw new VitrineError(
    'conflict',
    `--event-log ${path}: another process took its lock ${lock} while this one started`,
  );
}
