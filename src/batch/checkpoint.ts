import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Manifest } from '../bundle/manifest.js';
import { VitrineError } from '../protocol/errors.js';
import { writeFileAtomically } from '../util/atomic-file.js';
import { note, warn } from '../util/progress.js';
import type { KernelName } from './kernels/kernel.js';
import type { OutputFormat } from './output.js';

/** What `<out>.checkpoint.json` records after every block: a resumed run continues exactly there. */
export interface Checkpoint {
  signature: string;
  /** The backend that wrote the output so far: a resumed run keeps it, so its bytes match. */
  backend?: KernelName;
  usersDone: number;
  bytes: number;
  totalUsers: number;
  complete: boolean;
  /** Cold-start users among those done, so a resumed run's summary counts the whole job. */
  coldStart?: number;
}

/** Where a run starts: from the first user, or after the checkpoint's last block. */
export interface ResumePoint {
  start: number;
  bytes: number;
  coldStart: number;
  /** The backend the interrupted run used (kept, so the output's bytes match). */
  backend?: KernelName;
}

/** The job's identity: the bundle by content (its files' checksums), the options and the users. */
export function jobSignature(
  files: Manifest['files'],
  options: {
    k: number;
    format: OutputFormat;
    propensity: boolean;
    segments: boolean;
    excludeSeen: boolean;
    availableOnly: boolean;
    /** The promotion plan's signature (catalogue and policy), or null without --promotions. */
    promotions: string | null;
  },
  ids: readonly string[],
): string {
  // By content, not by path: a moved or symlinked copy of the bundle resumes.
  return createHash('sha256')
    .update(JSON.stringify({ files, ...options }))
    .update(ids.join('\n'))
    .digest('hex');
}

/** The checkpoint beside an output, or why it is not one this command wrote. */
export function readCheckpoint(path: string): Checkpoint | string {
  let cp: unknown;
  try {
    cp = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return `${path} is not a readable checkpoint (${(e as Error).message})`;
  }
  const c = cp as Partial<Checkpoint> | null;
  const valid =
    typeof c === 'object' &&
    c !== null &&
    typeof c.signature === 'string' &&
    Number.isInteger(c.usersDone) &&
    Number.isInteger(c.bytes) &&
    typeof c.complete === 'boolean';
  if (!valid) return `${path} belongs to a different job or is damaged`;
  return cp as Checkpoint;
}

export function saveCheckpoint(path: string, cp: Checkpoint): Promise<void> {
  return writeFileAtomically(path, JSON.stringify(cp));
}

export interface ResumeRequest {
  out: string;
  resume: boolean;
  force: boolean;
  /** The backend asked for ('auto' or a name). */
  backend: string;
  signature: string;
  totalUsers: number;
}

/**
 * Where to start. Without --resume: from the first user. With it: after the checkpoint, when it is
 * this job's and the output holds what it says; --force starts over where it cannot be resumed.
 */
export function resumePoint(r: ResumeRequest): ResumePoint {
  const path = `${r.out}.checkpoint.json`;
  const fresh: ResumePoint = { start: 0, bytes: 0, coldStart: 0 };
  if (!r.resume) return fresh;
  if (!existsSync(path)) {
    // Every output this command starts gets its checkpoint at once, so an output without one is
    // somebody else's file, not an interrupted run.
    if (existsSync(r.out) && statSync(r.out).size > 0 && !r.force) {
      throw new VitrineError(
        'conflict',
        `--resume: ${r.out} has no checkpoint (${path}), so it was not started by batch-score; refusing to overwrite it (use --force)`,
      );
    }
    note(`--resume: no checkpoint (${path}), so nothing was started; starting from the first user`);
    return fresh;
  }
  const cp = readCheckpoint(path);
  const why = typeof cp === 'string' ? cp : unresumable(cp, r, path);
  if (why !== undefined && !r.force) throw new VitrineError('damaged', `--resume: ${why}; start again with --force`);
  if (why !== undefined || typeof cp === 'string') {
    warn(`--resume --force: ${why}; starting again from the first user`);
    return fresh;
  }
  if (cp.complete) note(`${r.out} is already complete (${cp.usersDone} users)`);
  else note(`resuming after ${cp.usersDone} of ${r.totalUsers} users`);
  return { start: cp.usersDone, bytes: cp.bytes, coldStart: cp.coldStart ?? 0, backend: cp.backend };
}

/** Why the checkpoint cannot be resumed, or undefined when it can. */
function unresumable(cp: Checkpoint, r: ResumeRequest, path: string): string | undefined {
  if (cp.signature !== r.signature) return `${path} belongs to a different job (bundle, users or options changed)`;
  if (cp.bytes > 0 && (!existsSync(r.out) || statSync(r.out).size < cp.bytes))
    return `${r.out} is shorter than its checkpoint says (${cp.bytes} bytes)`;
  // Backends agree on the items but not on the last digits of scores: keep the one that started.
  if (cp.backend && r.backend !== 'auto' && r.backend !== cp.backend)
    return `this run was started with --backend ${cp.backend}; resume it with that backend (or auto)`;
  return undefined;
}
