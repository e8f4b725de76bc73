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
