import { describe, expect, it } from 'vitest';
import { parseJsonSteps } from '../../src/util/json-steps.js';
import { runPaced } from '../../src/util/steps.js';
import { Rng } from '../../src/util/rng.js';

/** Runs the steps, counting the yields. */
function parse(text: string): { value: unknown; steps: number } {
  const job = parseJsonSteps(Buffer.from(text, 'utf8'));
  for (let steps = 0; ; steps++) {
    const r = job.next();
    if (r.done) return { value: r.value, steps };
  }
}

/** Catalogue-like items whose strings hold what could fool a cut: brackets, commas, quotes, escapes, multi-byte characters. */
function items(n: number, seed: number): unknown[] {
  const rng = new Rng(seed);
  const tricky = ['},{', '"]', '\\', '[', 'é', '中文', '😀', ',', '\\"},{"id":"x"}'];
  return Array.from({ length: n }, (_, i) => ({
    id: `i${i}`,
    text: Array.from({ length: 3 }, () => tricky[rng.int(tricky.length)]).join(' '),
    attributes: rng.next() < 0.5 ? [] : [tricky[rng.int(tricky.length)], 'plain'],
    nested: { a: [1, [2, { b: '}' }]], price: rng.next() < 0.3 ? null : rng.next() * 100 },
  }));
}

describe('parsing large JSON arrays in steps', () => {
  it('gives what JSON.parse gives, in several steps, however the strings try to fool the cut', () => {
    for (const seed of [1, 2, 3]) {
      const value = items(25_000, seed);
      const text = JSON.stringify(value);
      expect(text.length).toBeGreaterThan(2 << 20);
      const got = parse(text);
      expect(got.value).toEqual(value);
      // A step per megabyte or so.
      expect(got.steps).toBeGreaterThanOrEqual(2);
      // Whitespace around and between the elements (JSON.stringify's indenting).
      expect(parse(`\n ${JSON.stringify(value, null, 1)}\n`).value).toEqual(value);
    }
  });

  it('parses small texts and anything but an array in one step', () => {
    expect(parse('[1, 2, 3]')).toEqual({ value: [1, 2, 3], steps: 0 });
    const big = { ids: items(20_000, 4) };
    expect(parse(JSON.stringify(big))).toEqual({ value: big, steps: 0 });
  });

  it('fails on a malformed text as JSON.parse does', () => {
    const text = JSON.stringify(items(25_000, 6));
    expect(() => parse(`${text} x`)).toThrow(SyntaxError);
    expect(() => parse(text.slice(0, -10))).toThrow(SyntaxError);
    // An empty element well into the array, past the first step.
    const [head, tail] = [items(15_000, 7), items(100, 8)].map((a) => JSON.stringify(a).slice(1, -1));
    expect(() => parse(`[${head},,${tail}]`)).toThrow(SyntaxError);
    // A wrong closing bracket, a trailing comma, a leading one, each a megabyte from the last cut.
    const pad = ' '.repeat(1 << 20);
    expect(() => parse(`[1,2,3${pad}}`)).toThrow(SyntaxError);
    expect(() => parse(`["${'x'.repeat((1 << 20) + 10)}",]`)).toThrow(SyntaxError);
    expect(() => parse(`[${pad},2]`)).toThrow(SyntaxError);
    expect(parse(`[${pad}]`).value).toEqual([]);
  });
});

describe('running a job in steps', () => {
  it('ends the job when its pace fails, so the job can let go of what it holds', async () => {
    let released = false;
    function* job(): Generator<void, number, void> {
      try {
        yield;
        yield;
        return 1;
      } finally {
        released = true;
      }
    }
    await expect(runPaced(job(), () => Promise.reject(new Error('stopped')))).rejects.toThrow('stopped');
    expect(released).toBe(true);
    expect(await runPaced(job(), async () => {})).toBe(1);
  });
});
