/**
 * Whether a process is running. Our own pid counts as gone: a file naming it was left by an earlier
 * process that had the same pid (PID 1 in a container).
 */
export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
