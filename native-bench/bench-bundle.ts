import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadDataset } from '../src/data/loaders/index.js';
import { configFor } from '../src/data/synthetic/config.js';
import { generateShop } from '../src/data/synthetic/write.js';
import { buildBundle, defaultBuildOptions } from '../src/train/build.js';

export interface BenchBundle {
  shop: string;
  bundle: string;
}

/**
 * The benchmarks' bundle: a synthetic shop with `items` products and `users` shoppers, trained with
 * `candidates` HNSW candidates and no extra kNN candidates (the yardstick's "200 candidates per
 * request"). Built once and cached under .vitrine-cache/bench.
 */
export async function ensureBenchBundle(items: number, users: number, candidates: number): Promise<BenchBundle> {
  const root = resolve('.vitrine-cache', 'bench');
  const shop = join(root, `shop-${items}x${users}`);
  const bundle = join(root, 'models', `shop-${items}x${users}-c${candidates}`, 'v1');
  if (existsSync(join(bundle, 'manifest.json'))) return { shop, bundle };
  if (!existsSync(join(shop, 'meta.json'))) await generateShop(configFor('large', { items, users, weeks: 8, sessionsPerUserWeek: 1, seed: 1 }), shop);
  const o = defaultBuildOptions(bundle, 1);
  o.alsGrid = o.alsGrid.slice(0, 1);
  o.embeddings = 'als';
  o.hnswTransform = 'auto';
  o.retrieval = { candidates, knnCandidates: 0, recentWindow: 5 };
  o.ranker.epochs = 6;
  await buildBundle(await loadDataset(shop), o);
  return { shop, bundle };
}
