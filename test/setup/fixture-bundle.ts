import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { loadDataset } from '../../src/data/loaders/index.js';
import { configFor } from '../../src/data/synthetic/config.js';
import { generateShop } from '../../src/data/synthetic/write.js';
import { buildBundle, defaultBuildOptions } from '../../src/train/build.js';

/** A hash of the sources, so a cached fixture is rebuilt whenever the code that builds it changes. */
function sourceHash(): string {
  const h = createHash('sha256');
  const src = resolve(import.meta.dirname, '..', '..', 'src');
  for (const f of (readdirSync(src, { recursive: true }) as string[]).filter((p) => p.endsWith('.ts')).sort())
    h.update(f).update(readFileSync(join(src, f)));
  return h.digest('hex').slice(0, 12);
}

/**
 * Builds one small synthetic shop and a bundle trained on it (~20 s) before the test files run, so
 * the server and batch tests share it. Reused across runs while the sources are unchanged.
 */
export default async function setup(project: TestProject): Promise<void> {
  process.env.VITRINE_PROGRESS = '0';
  const root = join(tmpdir(), `vitrine-fixture-${sourceHash()}`);
  const shop = join(root, 'shop');
  const bundle = join(root, 'models', 'shop', 'v1');
  if (!existsSync(join(bundle, 'manifest.json'))) {
    if (!existsSync(join(shop, 'meta.json'))) await generateShop(configFor('small', { seed: 7 }), shop);
    const o = defaultBuildOptions(bundle, 7);
    o.alsGrid = o.alsGrid.slice(0, 1);
    o.embeddings = 'als';
    o.ranker.epochs = 6;
    await buildBundle(await loadDataset(shop), o);
  }
  project.provide('fixtureShop', shop);
  project.provide('fixtureBundle', bundle);
}

declare module 'vitest' {
  export interface ProvidedContext {
    fixtureShop: string;
    fixtureBundle: string;
  }
}
