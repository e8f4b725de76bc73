import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDirAtomically } from '../util/atomic-dir.js';
import { writeFileAtomically } from '../util/atomic-file.js';
import { prepareOutputDir } from '../util/output-dir.js';
import type { HnswIndex } from '../index/hnsw.js';
import { sha256, writeArray, writeBytes, type FileEntry, type Typed } from './arrays.js';
import type { BundleData } from './model.js';
import { BUNDLE_MARKER } from './manifest.js';

/** The typed arrays of a bundle under their file names. */
export function bundleArrays(d: BundleData): Record<string, Typed> {
  return {
    ...(d.ease ? { 'ease_weights.f32': d.ease.B } : {}),
    'als_item_factors.f32': d.als.itemFactors,
    'als_user_factors.f32': d.als.userFactors,
    'als_item_gram.f64': d.als.itemGram,
    'knn_indptr.i32': d.knn.indptr,
    'knn_neighbours.i32': d.knn.neighbours,
    'knn_similarity.f32': d.knn.similarity,
    'follows_indptr.i32': d.follows.indptr,
    'follows_items.i32': d.follows.neighbours,
    'follows_weight.f32': d.follows.similarity,
    'pop_count.f32': d.popularity.count,
    'pop_trending.f32': d.popularity.trending,
    'pop_first_seen.f64': d.popularity.firstSeen,
    'pop_last_seen.f64': d.popularity.lastSeen,
    'pop_repeat_share.f32': d.popularity.repeatShare,
    'pop_repeat_days.f32': d.popularity.repeatDays,
    'rules_indptr.i32': d.rules.indptr,
    'rules_consequent.i32': d.rules.consequent,
    'rules_support.f32': d.rules.support,
    'rules_confidence.f32': d.rules.confidence,
    'rules_lift.f32': d.rules.lift,
    'hist_indptr.i32': d.history.ui.indptr,
    'hist_items.i32': d.history.ui.items,
    'hist_count.f32': d.history.ui.count,
    'hist_last_time.f64': d.history.ui.lastTime,
    'hist_last_type.u8': d.history.ui.lastType,
    'hist_rejected_indptr.i32': d.history.rejected.indptr,
    'hist_rejected_items.i32': d.history.rejected.items,
    'user_events.f32': d.history.totals.events,
    'user_spend.f64': d.history.totals.spend,
    'user_last_event.f64': d.history.totals.lastEventTime,
    'segments_assignment.i32': d.segments.assignment,
  };
}

/** The scalar parameters that go with the arrays (model.json). */
export function bundleScalars(d: BundleData): Record<string, unknown> {
  return {
    als: { factors: d.als.factors, regularization: d.als.regularization, alpha: d.als.alpha },
    knn: { numItems: d.knn.numItems, k: d.knn.k },
    follows: { numItems: d.follows.numItems, k: d.follows.k },
    popularity: { halfLifeDays: d.popularity.halfLifeDays, referenceTime: d.popularity.referenceTime },
    rules: {
      numItems: d.rules.numItems,
      transactions: d.rules.transactions,
      basis: d.rules.basis,
      params: d.rules.params,
    },
    history: { numUsers: d.history.ui.numUsers, numItems: d.history.ui.numItems },
    hnsw: d.hnsw,
    retrieval: d.retrieval,
    eventWeights: d.eventWeights,
    ease: d.ease
      ? { numItems: d.ease.numItems, lambda: d.ease.lambda, chosenBy: d.ease.chosenBy, validation: d.ease.validation }
      : null,
  };
}

/**
 * Writes the bundle into a hidden sibling directory renamed into place when complete: a crash
 * mid-write never leaves a version a server would pick up. Returns the final directory.
 */
export async function writeBundle(d: BundleData, hnsw: HnswIndex, outDir: string): Promise<string> {
  prepareOutputDir(outDir, BUNDLE_MARKER);
  await writeDirAtomically(outDir, async (tmp) => {
    const files: Record<string, FileEntry> = {};
    for (const [name, a] of Object.entries(bundleArrays(d))) files[name] = await writeArray(join(tmp, name), a);
    const { assignment: _assignment, ...segments } = d.segments;
    const json: Record<string, unknown> = {
      'catalog.json': d.items,
      'users.json': { ids: d.userIds, attributes: d.users.map((u) => u ?? null) },
      'features.json': d.featureSpec,
      'segments.json': segments,
      'model.json': bundleScalars(d),
    };
    for (const [name, value] of Object.entries(json))
      files[name] = await writeBytes(join(tmp, name), JSON.stringify(value));
    files['ranker.onnx'] = await writeBytes(join(tmp, 'ranker.onnx'), d.rankerOnnx);
    if (d.propensityOnnx) files['propensity.onnx'] = await writeBytes(join(tmp, 'propensity.onnx'), d.propensityOnnx);
    for (const { file } of hnsw.write(tmp)) {
      const bytes = readFileSync(join(tmp, file));
      files[file] = { bytes: bytes.length, sha256: sha256(bytes) };
    }
    d.manifest.files = files;
    await writeFile(join(tmp, 'manifest.json'), JSON.stringify(d.manifest, null, 2) + '\n');
  });
  d.dir = outDir;
  return outDir;
}

/** Rewrites manifest.json atomically (evaluation adds its metrics this way). */
export async function updateManifest(dir: string, manifest: BundleData['manifest']): Promise<void> {
  await writeFileAtomically(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}
