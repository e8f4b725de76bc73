import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { readCheckedSteps } from '../../src/bundle/arrays.js';
import { loadBundle, readBundle } from '../../src/bundle/read.js';
import { forThread, fromThread } from '../../src/bundle/threads.js';

const bundle = inject('fixtureBundle');

/** Runs the steps, counting the yields. */
function steps<T>(job: Generator<void, T, void>): { value: T; steps: number } {
  for (let n = 0; ; n++) {
    const r = job.next();
    if (r.done) return { value: r.value, steps: n };
  }
}

describe('reading a bundle in steps', () => {
  it('reads what the one-call read does, yielding between files and within large ones', async () => {
    let paces = 0;
    const paced = await loadBundle(bundle, { shared: true, pace: async () => void paces++ });
    const whole = readBundle(bundle, { shared: true });
    expect(paces).toBeGreaterThanOrEqual(Object.keys(whole.manifest.files).length);
    expect(paced.items).toEqual(whole.items);
    expect(paced.users).toEqual(whole.users);
    expect(paced.als.itemFactors).toEqual(whole.als.itemFactors);
    expect(paced.knn.neighbours).toEqual(whole.knn.neighbours);
    expect(paced.rankerOnnx).toEqual(whole.rankerOnnx);
    // Shared: the arrays and the catalogue's bytes sit in memory every thread can read.
    expect(paced.als.itemFactors.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(paced.sharedText?.catalog.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(readBundle(bundle).sharedText).toBeUndefined();
  });

  it('reads a file a few MiB at a time, checking its size and checksum', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-read-'));
    try {
      const bytes = Buffer.alloc(5 << 20, 7);
      const path = join(dir, 'a.u8');
      writeFileSync(path, bytes);
      const entry = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
      // 5 MiB in 2 MiB reads: three reads, a yield between each.
      const read = steps(readCheckedSteps(path, entry, true));
      expect(read.steps).toBe(2);
      expect(Buffer.from(read.value).equals(bytes)).toBe(true);
      expect(read.value.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(() => steps(readCheckedSteps(path, { ...entry, bytes: 10 }))).toThrow(
        /a\.u8: 5242880 bytes, manifest says 10/,
      );
      expect(() => steps(readCheckedSteps(path, { ...entry, sha256: '0'.repeat(64) }))).toThrow(
        /a\.u8: checksum [0-9a-f]{12}… does not match the manifest's 000000000000…/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hands a thread the catalogue and users as shared bytes, which it parses back to the same', () => {
    const b = readBundle(bundle, { shared: true });
    const sent = structuredClone(forThread(b));
    expect(sent.items).toEqual([]);
    expect(sent.userIds).toEqual([]);
    const got = fromThread(sent);
    expect(got.items).toEqual(b.items);
    expect(got.userIds).toEqual(b.userIds);
    expect(got.users).toEqual(b.users);
    // Without shared bytes (a plain read) the bundle goes whole.
    const plain = readBundle(bundle);
    expect(forThread(plain)).toBe(plain);
  });
});
