import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeDirAtomically } from '../../src/util/atomic-dir.js';
import { tempDir } from '../helpers/paths.js';

describe('writeDirAtomically', () => {
  it('replaces an earlier output whole, and leaves nothing behind when the fill fails', async () => {
    const parent = tempDir();
    const out = join(parent, 'v1');
    await writeDirAtomically(out, async (tmp) => writeFileSync(join(tmp, 'a.txt'), 'first'));
    await writeDirAtomically(out, async (tmp) => writeFileSync(join(tmp, 'b.txt'), 'second'));
    expect(readdirSync(out)).toEqual(['b.txt']);
    await expect(
      writeDirAtomically(out, async (tmp) => {
        writeFileSync(join(tmp, 'c.txt'), 'half');
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(readdirSync(parent)).toEqual(['v1']);
    expect(readFileSync(join(out, 'b.txt'), 'utf8')).toBe('second');
  });

  it('removes what a killed writer left, but not what a live one is writing', async () => {
    const parent = tempDir();
    // Above the largest pid_max Linux allows (2^22): no process can have it.
    const dead = 2 ** 22 + 1;
    mkdirSync(join(parent, `.v1.tmp-${dead}`));
    // The parent of this test process is alive (the vitest main process).
    mkdirSync(join(parent, `.v1.tmp-${process.ppid}`));
    mkdirSync(join(parent, `.v2.tmp-${dead}`));
    await writeDirAtomically(join(parent, 'v1'), async (tmp) => writeFileSync(join(tmp, 'x'), ''));
    expect(readdirSync(parent).sort()).toEqual([`.v1.tmp-${process.ppid}`, `.v2.tmp-${dead}`, 'v1']);
    // A swap killed while deleting the old copy, by an earlier process with this pid (PID 1 in a
    // container): the leftover must not block the next swap.
    mkdirSync(join(parent, `.v1.old-${process.pid}`));
    writeFileSync(join(parent, `.v1.old-${process.pid}`, 'stale'), '');
    await writeDirAtomically(join(parent, 'v1'), async (tmp) => writeFileSync(join(tmp, 'y'), ''));
    expect(readdirSync(join(parent, 'v1'))).toEqual(['y']);
    expect(readdirSync(parent).filter((e) => e.includes('.old-'))).toEqual([]);
  });
});
