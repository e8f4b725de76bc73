import { execFile } from 'node:child_process';
import { cliPath } from './paths.js';

/**
 * The CLI in a process of its own, run asynchronously: a server under test in this process keeps
 * answering while it runs (a load generator sharing the server's event loop would measure itself).
 */
export function runVitrine(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { encoding: 'utf8', env: { ...process.env, VITRINE_PROGRESS: '0', ...env }, timeout: 60_000 },
      (error, out, err) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, out, err }),
    );
  });
}
