import { type ChildProcess, spawn } from 'node:child_process';

/** A server under benchmark in a process of its own, ready once its stdout matches `ready` (the port in group 1). */
export function startServerProcess(argv: string[], ready: RegExp): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, argv, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, VITRINE_PROGRESS: '0' },
  });
  let out = '';
  return new Promise((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) res({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => rej(new Error(`${argv.join(' ')} exited (${code}) before it was ready: ${out}`)));
  });
}

/** Stops it with `signal` and waits for it to be gone. */
export async function stopServerProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}
