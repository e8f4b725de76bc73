import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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

  it("lists every source file in docs/architecture.md's tree, and nothing that is not there", () => {
    const doc = readFileSync(join(repoRoot, 'docs', 'architecture.md'), 'utf8');
    const tree = doc.slice(doc.indexOf('```text\nsrc/'));
    const lines = tree.slice(0, tree.indexOf('\n```', 8)).split('\n').slice(2);
    const listed: string[] = [];
    const path: string[] = [];
    for (const line of lines) {
      const depth = (line.length - line.trimStart().length) / 2 - 1;
      const name = line.trim().split(/\s+/)[0];
      path.length = depth;
      if (name.endsWith('/')) path.push(name.slice(0, -1));
      else listed.push([...path, name].join('/'));
    }
    const actual = [...tsFiles(src)].map((f) => f.slice(src.length + 1));
    expect(listed.sort()).toEqual(actual.sort());
  });

  it("keeps the README a short user page whose links, and the docs' links, all resolve", () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
    const pages = [
      'README.md',
      ...readdirSync(join(repoRoot, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
      'CHANGELOG.md',
    ];
    for (const page of pages) {
      const text = readFileSync(join(repoRoot, page), 'utf8');
      for (const m of text.matchAll(/\]\((?!https?:|#)([^)#\s]+)(#[^)\s]*)?\)/g)) {
        const target = join(repoRoot, page.includes('/') ? 'docs' : '', m[1]);
        expect(existsSync(target), `${page} links to ${m[1]}`).toBe(true);
      }
    }
  });
});
