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

/** "<path>: <reason>" for a file-system error on a path; undefined for anything else. */
export function fileSystemReason(err: unknown): string | undefined {
  const e = err as { code?: unknown; path?: unknown };
  if (!(err instanceof Error) || typeof e.code !== 'string' || typeof e.path !== 'string') return undefined;
  const reason = FS_REASONS[e.code];
  return reason ? `${e.path}: ${reason}` : undefined;
}
