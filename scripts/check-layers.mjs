#!/usr/bin/env node
// The layering check: every folder of src/ is a layer, and a layer may import only the layers listed
// for it below (dependencies point down). `npm test` runs it (test/layout.test.ts); run it alone with
// `node scripts/check-layers.mjs` to see the import counts between layers.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What each layer may import besides itself, lowest layers first. */
export const ALLOWED = {
  protocol: [],
  util: ['protocol'],
  backends: ['protocol', 'util'],
  data: ['protocol', 'util'],
  model: ['protocol', 'util', 'data'],
  features: ['protocol', 'util', 'data', 'model'],
  index: ['protocol', 'util', 'backends', 'data', 'model', 'features'],
  bundle: ['protocol', 'util', 'data', 'model', 'features', 'index'],
  metrics: ['protocol', 'util', 'data'],
  rank: ['protocol', 'util', 'backends', 'data', 'model', 'features', 'index', 'bundle', 'metrics'],
  state: ['protocol', 'util'],
  promotions: ['protocol', 'util', 'data', 'model', 'state'],
  experiments: ['protocol', 'util'],
  train: ['protocol', 'util', 'backends', 'data', 'model', 'features', 'index', 'bundle', 'metrics', 'rank'],
  eval: ['protocol', 'util', 'data', 'model', 'features', 'index', 'bundle', 'metrics', 'rank'],
  batch: ['protocol', 'util', 'backends', 'data', 'model', 'features', 'index', 'bundle', 'rank', 'promotions'],
  serve: [
    'protocol',
    'util',
    'backends',
    'data',
    'model',
    'features',
    'index',
    'bundle',
    'rank',
    'state',
    'promotions',
    'experiments',
  ],
  client: ['protocol'],
  load: ['protocol', 'util', 'data', 'bundle', 'client'],
  cli: [
    'protocol',
    'util',
    'backends',
    'data',
    'model',
    'features',
    'index',
    'bundle',
    'metrics',
    'rank',
    'state',
    'promotions',
    'experiments',
    'train',
    'eval',
    'batch',
    'serve',
    'client',
    'load',
  ],
};

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)|(?:^|\n)\s*import\s+'(\.[^']+)'/g;

function* tsFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (name.endsWith('.ts')) yield path;
  }
}

/**
 * Every import between layers under `src`: `edges` counts them per "from -> to"; `violations` lists
 * each import a layer may not make (and files in a folder that is not a known layer).
 */
export function checkLayers(src) {
  const edges = new Map();
  const violations = [];
  for (const file of tsFiles(src)) {
    const rel = relative(src, file);
    const from = rel.includes(sep) ? rel.split(sep)[0] : '(top level)';
    if (!(from in ALLOWED)) {
      violations.push(`${rel}: not in a known layer (${Object.keys(ALLOWED).join(', ')})`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const target = relative(src, resolve(dirname(file), spec));
      if (target.startsWith('..')) {
        violations.push(`${rel}: imports ${spec}, outside src/`);
        continue;
      }
      const to = target.split(sep)[0];
      if (to === from) continue;
      const key = `${from} -> ${to}`;
      edges.set(key, (edges.get(key) ?? 0) + 1);
      if (!ALLOWED[from].includes(to))
        violations.push(
          `${rel}: imports ${spec} (${from} may not import ${to}; it may import ${ALLOWED[from].join(', ') || 'nothing'})`,
        );
    }
  }
  return { edges, violations };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');
  const { edges, violations } = checkLayers(src);
  const order = Object.keys(ALLOWED);
  const rows = [...edges].sort(
    ([a], [b]) => order.indexOf(a.split(' ')[0]) - order.indexOf(b.split(' ')[0]) || a.localeCompare(b),
  );
  console.log(`imports between layers (${rows.length} pairs):`);
  for (const [pair, n] of rows) console.log(`  ${pair.padEnd(22)} ${String(n).padStart(4)}`);
  if (violations.length > 0) {
    console.log(`\n${violations.length} imports against the layering:`);
    for (const v of violations) console.log(`  ${v}`);
    process.exit(1);
  }
  console.log('\nno import crosses a layer upward');
}
