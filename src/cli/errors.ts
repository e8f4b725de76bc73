import { CommanderError } from 'commander';
import { DataError } from '../data/errors.js';
import { ERRORS, VitrineError } from '../protocol/errors.js';

/** Why a file-system call failed, in words a user can act on, keyed by the error code. */
const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
};

/**
 * "<path>: <reason>" for a file-system error on a path; "<call> failed: <reason>" for one on an open
 * file (a write that hits a full disk carries no path); undefined for anything else.
 */
export function fileSystemReason(err: unknown): string | undefined {
  const e = err as { code?: unknown; path?: unknown; syscall?: unknown };
  if (!(err instanceof Error) || typeof e.code !== 'string') return undefined;
  const reason = FS_REASONS[e.code];
  if (!reason) return undefined;
  if (typeof e.path === 'string') return `${e.path}: ${reason}`;
  return `${typeof e.syscall === 'string' ? e.syscall : 'a file operation'} failed: ${reason}`;
}

/** What the CLI prints for an error and the exit code it leaves with, from the error catalogue. */
export function reportFor(err: unknown): { message: string; exit: number } {
  // Commander has already printed the message (or the help or version asked for).
  if (err instanceof CommanderError) return { message: '', exit: err.exitCode === 0 ? 0 : ERRORS.usage.exit };
  if (err instanceof DataError) return { message: `vitrine: data error: ${err.message}`, exit: err.exitCode };
  if (err instanceof VitrineError && err.code !== 'internal')
    return { message: `vitrine: ${err.message}`, exit: err.exitCode };
  // A path the user named (or a directory under it) cannot be read or written: say which and why.
  const fsReason = fileSystemReason(err);
  if (fsReason) return { message: `vitrine: ${fsReason}`, exit: ERRORS.io_error.exit };
  // Anything else is Vitrine's fault, not the input's: say so, with what a bug report needs.
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return {
    message: `vitrine: internal error (a bug in Vitrine, not in what you gave it; please report it with this trace):\n${detail}`,
    exit: ERRORS.internal.exit,
  };
}
