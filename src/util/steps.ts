/**
 * A long job written as a generator that yields between steps, so one body serves a caller that
 * wants it done at once and one whose thread serves meanwhile (the main thread's own model, see
 * InstantiateOptions.pace).
 */
export type Steps<T> = Generator<void, T, void>;

/** A pace for a thread that serves: the next turn of the event loop, after the I/O waiting for it. */
export const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs every step at once. */
export function runAtOnce<T>(job: Steps<T>): T {
  for (;;) {
    const r = job.next();
    if (r.done) return r.value;
  }
}

/** Runs the steps, awaiting `pace` between them (at once without it). */
export async function runPaced<T>(job: Steps<T>, pace?: () => Promise<void>): Promise<T> {
  if (!pace) return runAtOnce(job);
  try {
    for (;;) {
      const r = job.next();
      if (r.done) return r.value;
      await pace();
    }
  } finally {
    // A pace that failed leaves the job suspended: end it, so its own `finally` (an open file) runs.
    job.return(undefined as T);
  }
}
