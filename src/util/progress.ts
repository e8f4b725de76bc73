/**
 * Progress bars and stage timings on stderr, so stdout stays clean for data and reports.
 * On a terminal the bar redraws in place; elsewhere (CI logs, pipes) it prints a line every few
 * seconds instead of flooding the log. VITRINE_PROGRESS=0 silences it (the tests set this).
 */

const enabled = (): boolean => process.env.VITRINE_PROGRESS !== '0';

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (n < 10 && !Number.isInteger(n)) return n.toFixed(1);
  return String(Math.round(n));
}

export class Progress {
  private done = 0;
  private readonly started = performance.now();
  private lastDraw = performance.now();
  private readonly tty: boolean;
  private finished = false;

  /** `total` may be undefined when the size is not known up front (a streamed file). */
  constructor(
    private readonly label: string,
    private total: number | undefined,
    private readonly unit = 'items',
  ) {
    this.tty = Boolean(process.stderr.isTTY);
  }

  setTotal(total: number): void {
    this.total = total;
  }

  tick(n = 1): void {
    this.done += n;
    const now = performance.now();
    if (now - this.lastDraw >= (this.tty ? 100 : 5000)) {
      this.lastDraw = now;
      this.draw(false);
    }
  }

  update(done: number): void {
    this.tick(done - this.done);
  }

  finish(note = ''): number {
    if (this.finished) return (performance.now() - this.started) / 1000;
    this.finished = true;
    if (this.total === undefined) this.total = this.done;
    this.draw(true, note);
    return (performance.now() - this.started) / 1000;
  }

  private draw(final: boolean, note = ''): void {
    if (!enabled()) return;
    const elapsed = (performance.now() - this.started) / 1000;
    const rate = this.done / Math.max(elapsed, 1e-9);
    let line: string;
    // An estimated total (generated events) can be overtaken; then it stops meaning anything.
    if (this.total !== undefined && this.total > 0 && (final || this.done <= this.total)) {
      const frac = Math.min(1, this.done / this.total);
      const width = 24;
      const filled = Math.round(frac * width);
      const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
      const eta = final ? '' : ` eta ${formatDuration((this.total - this.done) / Math.max(rate, 1e-9))}`;
      line = `${this.label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatCount(this.done)}/${formatCount(this.total)} ${this.unit} ${formatCount(rate)}/s ${formatDuration(elapsed)}${eta}`;
    } else {
      line = `${this.label} ${formatCount(this.done)} ${this.unit} ${formatCount(rate)}/s ${formatDuration(elapsed)}`;
    }
    if (note) line += ` ${note}`;
    if (this.tty) process.stderr.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
  }
}

/** Runs one named stage, prints its wall time, and returns its result; timings are collected for reports. */
export class StageTimer {
  readonly timings: Record<string, number> = {};

  async run<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now();
    const out = await fn();
    const seconds = (performance.now() - t0) / 1000;
    this.timings[name] = Number(seconds.toFixed(3));
    note(`stage ${name}: ${formatDuration(seconds)}`);
    return out;
  }
}

/** A one-line status message on stderr, silenced with the progress bars. */
export function note(message: string): void {
  if (enabled()) process.stderr.write(`${message}\n`);
}

/** Something the user must know about the result: printed whatever the progress setting. */
export function warn(message: string): void {
  process.stderr.write(`vitrine: warning: ${message}\n`);
}

export { formatDuration, formatCount };

/** "1 worker", "2 workers": a count with its noun. */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
