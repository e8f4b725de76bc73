import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Manifest } from '../bundle/manifest.js';
import { bundleVersions } from '../bundle/read.js';
import { DatasetBuilder } from '../data/dataset.js';
import { loadItems } from '../data/loaders/generic.js';
import type { Item } from '../data/types.js';

/** Why `version` of the bundle at `bundlePath` cannot be reloaded, or undefined when it can be tried. */
export function missingVersion(bundlePath: string, version: string): string | undefined {
  const dir = resolve(bundlePath);
  if (existsSync(join(dir, 'manifest.json')))
    return `the server was started on one version directory (${dir}); start it on the bundle directory to switch versions`;
  let versions: string[];
  try {
    versions = bundleVersions(dir);
  } catch (e) {
    // Runs in a uWS callback, where a throw would end the process.
    return `the bundle directory ${dir} cannot be listed (${(e as Error).message})`;
  }
  if (!versions.includes(version))
    return `no version "${version}" in ${dir} (versions: ${versions.join(', ') || 'none'})`;
  return undefined;
}

/** Whether the version in `dir` still has the files (by checksum) the serving pool was loaded from. */
export function sameFiles(dir: string, serving: Manifest): boolean {
  try {
    const onDisk = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files?: unknown };
    return JSON.stringify(onDisk.files) === JSON.stringify(serving.files);
  } catch {
    // Unreadable now: let the reload try, and fail with the reason.
    return false;
  }
}

/** A newer catalogue (--catalog): items the bundle lacks are placed by their attributes. */
export async function readCatalog(path: string): Promise<Item[]> {
  const b = new DatasetBuilder();
  await loadItems(path, b);
  return b.build({ format: 'catalog', path, files: [path] }).itemInfo;
}
