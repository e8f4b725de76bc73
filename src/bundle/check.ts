import { VitrineError } from '../protocol/errors.js';
import type { BundleData } from './model.js';

/**
 * Checks every array of a bundle against the dimensions it declares: checksums prove the files are
 * the ones the manifest lists, not that the manifest describes a working model (a factor file cut to
 * 1,000 bytes with its checksum updated was served as trending fill-ins and zero scores). Index
 * arrays are checked to point inside what they index, so a damaged file is refused here rather than
 * read out of bounds by a worker.
 */
export function checkShapes(b: BundleData, where: string): void {
  const fail = (what: string): never => {
    throw new VitrineError('damaged', `${where}: ${what}; the bundle is incomplete or damaged (train it again)`);
  };
  const items = b.items.length;
  const users = b.userIds.length;
  const d = b.als.factors;
  const dims = b.manifest.dimensions;
  if (dims.items !== items || dims.users !== users || dims.factors !== d) {
    fail(
      `the manifest's dimensions (${dims.items} items, ${dims.users} users, ${dims.factors} factors) do not match its files (${items}, ${users}, ${d})`,
    );
  }
  const length = (name: string, a: ArrayLike<unknown>, expected: number): void => {
    if (a.length !== expected) fail(`${name} has ${a.length} values, expected ${expected}`);
  };
  const finite = (name: string, a: ArrayLike<number>): void => {
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) fail(`${name}[${i}] is ${a[i]}`);
  };
  const csr = (name: string, indptr: Int32Array, rows: number, cols: Int32Array, within: number): void => {
    length(`${name} indptr`, indptr, rows + 1);
    if (indptr[0] !== 0 || cols.length !== indptr[rows])
      fail(`${name} indptr does not span its ${cols.length} entries`);
    for (let r = 0; r < rows; r++) if (indptr[r + 1] < indptr[r]) fail(`${name} indptr decreases at row ${r}`);
    for (let j = 0; j < cols.length; j++)
      if (!(cols[j] >= 0 && cols[j] < within))
        fail(`${name} entry ${j} points at ${cols[j]}, outside 0..${within - 1}`);
  };
  length('users.json attributes', b.users, users);
  length('als_item_factors', b.als.itemFactors, items * d);
  length('als_user_factors', b.als.userFactors, users * d);
  length('als_item_gram', b.als.itemGram, d * d);
  finite('als_item_factors', b.als.itemFactors);
  finite('als_user_factors', b.als.userFactors);
  csr('knn', b.knn.indptr, items, b.knn.neighbours, items);
  length('knn_similarity', b.knn.similarity, b.knn.neighbours.length);
  csr('follows', b.follows.indptr, items, b.follows.neighbours, items);
  length('follows_weight', b.follows.similarity, b.follows.neighbours.length);
  csr('rules', b.rules.indptr, items, b.rules.consequent, items);
  for (const [name, a] of [
    ['rules_support', b.rules.support],
    ['rules_confidence', b.rules.confidence],
    ['rules_lift', b.rules.lift],
  ] as const)
    length(name, a, b.rules.consequent.length);
  for (const [name, a] of [
    ['pop_count', b.popularity.count],
    ['pop_trending', b.popularity.trending],
    ['pop_first_seen', b.popularity.firstSeen],
    ['pop_last_seen', b.popularity.lastSeen],
  ] as const)
    length(name, a, items);
  const h = b.history.ui;
  csr('hist', h.indptr, users, h.items, items);
  length('hist_count', h.count, h.items.length);
  length('hist_last_time', h.lastTime, h.items.length);
  for (const [name, a] of [
    ['user_events', b.history.totals.events],
    ['user_spend', b.history.totals.spend],
    ['user_last_event', b.history.totals.lastEventTime],
  ] as const)
    length(name, a, users);
  length('segments_assignment', b.segments.assignment, users);
  const segDim = 3 + b.segments.spec.affinityIds.length;
  if (b.segments.centroids.length !== b.segments.k || b.segments.centroids.some((c) => c.length !== segDim))
    fail(`segments.json holds centroids that are not ${b.segments.k} × ${segDim}`);
  if (b.featureSpec.names.length !== dims.features)
    fail(`features.json names ${b.featureSpec.names.length} features, the manifest ${dims.features}`);
  if (b.ease) length('ease_weights', b.ease.B, items * items);
}
