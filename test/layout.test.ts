import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// The layering check is a plain script (run alone by `npm run lint`); the test holds it to account.
import { ALLOWED, checkLayers } from '../scripts/check-layers.mjs';
import { repoRoot, tempDir } from './helpers/paths.js';

const src = join(repoRoot, 'src');

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (name.endsWith('.ts')) yield path;
  }
}

describe('the layout', () => {
  it('has no import that crosses a layer upward', () => {
    const { violations, edges } = checkLayers(src);
    expect(violations).toEqual([]);
    // The layers the issue fixes: nothing outside train/ and cli/ imports train/; serve/ and rank/ import neither.
    for (const pair of edges.keys()) {
      const [from, to] = pair.split(' -> ');
      if (to === 'train') expect(['cli'], pair).toContain(from);
      if (from === 'serve' || from === 'rank') expect(['train', 'cli'], pair).not.toContain(to);
    }
  });

  it('fails the check for an upward import, and for a folder that is not a layer', () => {
    const root = tempDir();
    mkdirSync(join(root, 'serve'));
    mkdirSync(join(root, 'train'));
    mkdirSync(join(root, 'misc'));
    writeFileSync(join(root, 'train', 'fit.ts'), 'export const fit = 1;\n');
    writeFileSync(join(root, 'serve', 'x.ts'), "import { fit } from '../train/fit.js';\nexport const x = fit;\n");
    writeFileSync(join(root, 'misc', 'y.ts'), 'export const y = 1;\n');
    const { violations } = checkLayers(root);
    expect(violations.sort()).toEqual([
      expect.stringMatching(/^misc\/y\.ts: not in a known layer/),
      expect.stringMatching(/^serve\/x\.ts: imports \.\.\/train\/fit\.js \(serve may not import train;/),
    ]);
  });

  it('gives every source folder a layer, and keeps every source file under 350 lines', () => {
    const folders = readdirSync(src).filter((f) => statSync(join(src, f)).isDirectory());
    expect(Object.keys(ALLOWED)).toEqual(expect.arrayContaining(folders));
    const long = [...tsFiles(src)]
      .map((f) => [f.slice(src.length + 1), readFileSync(f, 'utf8').split('\n').length] as const)
      .filter(([, n]) => n > 350);
    expect(long).toEqual([]);
  });
});
