import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readBundle } from '../src/bundle/read.js';
import { loadDataset } from '../src/data/loaders/index.js';
import { configFor } from '../src/data/synthetic/config.js';
import { generateShop } from '../src/data/synthetic/write.js';
import { DEFAULT_HNSW } from '../src/index/hnsw.js';
import { buildBundle, defaultBuildOptions } from '../src/train/build.js';
import { DEFAULT_RANKER } from '../src/train/ranker.js';
import type { Traffic } from '../src/load/engine.js';
import { Rng } from '../src/util/rng.js';

export interface BenchBundle {
  shop: string;
  bundle: string;
}

/**
 * The benchmarks' bundle: a synthetic shop with `items` products and `users` shoppers, trained with
 * `candidates` HNSW candidates and no item-kNN, follower, chain or attribute candidates (the yardstick's "200
 * candidates per request"). Built once and cached under .vitrine-cache/bench, per HNSW M (the one index parameter the
 * build does not tune) and ranker shape, so a change of either default is measured on its own bundle.
 */
export async function ensureBenchBundle(items: number, users: number, candidates: number): Promise<BenchBundle> {
  const root = resolve('.vitrine-cache', 'bench');
  const shop = join(root, `shop-${items}x${users}`);
  const bundle = join(
    root,
    'models',
    `shop-${items}x${users}-c${candidates}-m${DEFAULT_HNSW.M}-r${DEFAULT_RANKER.hidden.join('x')}`,
    'v1',
  );
  if (existsSync(join(bundle, 'manifest.json'))) {
    // Read as a server would: an older schema, an unreadable manifest and a bundle of this schema
    // built before an array was added to it (during the schema's development) all fail to load.
    const fault = loadFault(bundle);
    if (fault === undefined) return { shop, bundle };
    console.error(`bench bundle ${bundle} ${fault}; rebuilding it`);
  }
  if (!existsSync(join(shop, 'meta.json')))
    await generateShop(configFor('large', { items, users, weeks: 8, sessionsPerUserWeek: 1, seed: 1 }), shop);
  const o = defaultBuildOptions(bundle, 1);
  o.alsGrid = o.alsGrid.slice(0, 1);
  o.embeddings = 'als';
  o.retrieval = {
    ...o.retrieval,
    candidates,
    knnCandidates: 0,
    followCandidates: 0,
    chainCandidates: 0,
  };
  // HNSW's places stay its own: the yardstick is 200 candidates a request from the index.
  o.attributeCandidates = 0;
  o.ranker.epochs = 6;
  await buildBundle(await loadDataset(shop), o);
  return { shop, bundle };
}

/** The bench bundle's first 5,000 shoppers: whom the serving benchmarks' requests are for. */
export function benchShoppers(bundle: string): string[] {
  return (JSON.parse(readFileSync(join(bundle, 'users.json'), 'utf8')) as { ids: string[] }).ids.slice(0, 5000);
}

/** Recommend requests (k 10) for shoppers drawn from `userIds` by a seeded generator: the same every run. */
export function recommendTraffic(userIds: string[], candidates: number): Traffic {
  const rng = new Rng(9);
  return {
    next: () => ({ call: 'recommend', body: { user: userIds[rng.int(userIds.length)], k: 10, candidates } }),
  };
}

function loadFault(dir: string): string | undefined {
  try {
    readBundle(dir);
    return undefined;
  } catch (e) {
    return `does not load (${(e as Error).message})`;
  }
}
