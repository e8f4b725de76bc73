import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadConfig, type ServerConfig } from '../../src/serve/config/index.js';
import { VitrineServer } from '../../src/serve/server.js';
import type { Reply } from './client.js';
import { tempDir } from './paths.js';

export interface CatalogRow {
  id: string;
  category: string;
  price: number;
  available: boolean;
}

export function readCatalog(path: string): Map<string, CatalogRow> {
  const lines = readFileSync(path, 'utf8').trim().split('\n').slice(1);
  return new Map(
    lines.map((l) => {
      const f = l.split(',');
      return [f[0], { id: f[0], category: f[1], price: Number(f[3]), available: f[f.length - 1] === '1' }];
    }),
  );
}

export type Items = { items: { id: string; score: number | null; stage: string; explanation?: string }[] };

/** A reply's items, failing the test with the error when it is one. */
export const items = (r: Reply): Items['items'] => {
  expect(r.error, JSON.stringify(r.error)).toBeUndefined();
  return (r.result as Items).items;
};

export const NEW_ITEM = 'i-new-1';
export const UNCATEGORISED = 'i-new-2';

/**
 * A started server on the fixture bundle, with a newer catalogue holding two products the bundle has
 * never seen (one categorised, one not).
 */
export async function startServerWithCatalog(
  shop: string,
  bundle: string,
  flags: Partial<ServerConfig> = {},
): Promise<{ server: VitrineServer; catalog: Map<string, CatalogRow> }> {
  const dir = tempDir();
  const catalogFile = join(dir, 'items.csv');
  writeFileSync(
    catalogFile,
    readFileSync(join(shop, 'items.csv'), 'utf8') +
      `${NEW_ITEM},Makeup,MAK-A,12.50,style:3+|tier:mid,MAK-A Fresh Makeup Edition,1\n${UNCATEGORISED},,,9.99,,A plain thing,1\n`,
  );
  const server = new VitrineServer(
    loadConfig(bundle, undefined, {
      port: 0,
      workers: 2,
      logLevel: 'silent',
      clock: 'bundle',
      catalog: catalogFile,
      maxFrameBytes: 64 * 1024,
      ...flags,
    }),
  );
  await server.start();
  return { server, catalog: readCatalog(catalogFile) };
}

/** A started server on `bundle`: a free port, one worker, no logs, and whatever else `settings` say. */
export async function startTestServer(bundle: string, settings: Partial<ServerConfig> = {}): Promise<VitrineServer> {
  const server = new VitrineServer(
    loadConfig(bundle, undefined, { port: 0, workers: 1, logLevel: 'silent', ...settings }),
  );
  await server.start();
  return server;
}
