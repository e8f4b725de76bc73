/** Milliseconds rounded to the microsecond: how replies, metrics and the stage breakdown report time. */
export const toMicros = (ms: number): number => Math.round(ms * 1000) / 1000;

/** Milliseconds since t0 (performance.now()), to the microsecond. */
export const elapsed = (t0: number): number => toMicros(performance.now() - t0);
