import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { ItemNeighbours } from '../model/knn.js';
import type { AssociationRules } from '../model/rules.js';
import { readCheckedSteps, toTyped } from './arrays.js';
import { parseJsonSteps } from '../util/json-steps.js';
import { runAtOnce, runPaced, type Steps } from '../util/steps.js';
import { checkShapes } from './check.js';
import { type Manifest, validateManifest } from './manifest.js';
import type { BundleData } from './model.js';
import { VitrineError } from '../protocol/errors.js';

/**
 * A `--bundle` path may name one version (a directory with manifest.json) or a bundle holding
 * versions; then the newest complete version (greatest name, numbers compared as numbers) is used.
 */
export function resolveBundleVersion(path: string): string {
  const dir = resolve(path);
  if (!existsSync(dir))
    throw new VitrineError(
      'not_found',
      `--bundle: ${dir} does not exist (train one with: vitrine train --out ${path}/v1)`,
    );
  if (existsSync(join(dir, 'manifest.json'))) return dir;
  const versions = bundleVersions(dir);
  if (versions.length === 0)
    throw new VitrineError('not_found', `--bundle: ${dir} holds no bundle version (no */manifest.json)`);
  return join(dir, versions[versions.length - 1]);
}

/**
 * The complete versions in a bundle directory (those with a manifest), oldest name first. Digit runs
 * compare as numbers, so v10 comes after v9 and v20261124-0930 after v20261124-0915.
 */
export function bundleVersions(dir: string): string[] {
  const isVersion = (v: string): boolean => {
    if (v.startsWith('.')) return false;
    try {
      return statSync(join(dir, v)).isDirectory() && existsSync(join(dir, v, 'manifest.json'));
    } catch {
      // A dangling link, or a version removed while we looked: not a version to load.
      return false;
    }
  };
  return readdirSync(dir).filter(isVersion).sort(VERSION_ORDER.compare);
}

const VERSION_ORDER = new Intl.Collator('en', { numeric: true });

/** The files every version has besides its arrays (which readBundle asks for by name) and HNSW partitions (listed in model.json). */
const REQUIRED_FILES = ['model.json', 'users.json', 'catalog.json', 'features.json', 'segments.json', 'ranker.onnx'];

type Arrays = Record<string, Float32Array | Float64Array | Int32Array | Uint8Array>;

/** A manifest problem that means the version cannot be trusted. */
function incomplete(manifestPath: string, what: string): never {
  throw new VitrineError('damaged', `${manifestPath}: ${what}; the bundle is incomplete or damaged (train it again)`);
}

/** The version's manifest, checked, with the version named by its directory. */
function readManifest(dir: string): Manifest {
  const manifestPath = join(dir, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    throw new VitrineError('io_error', `${manifestPath}: cannot read (${(e as Error).message})`);
  }
  const manifest = validateManifest(raw, manifestPath);
  // The directory name is the version servers select and report, even for a copied or renamed version.
  manifest.version = basename(dir);
  // Every file a reader opens must be listed, so that every one is checked: a file missing from
  // the list would be read unchecked (the HNSW partitions, opened by hnswlib, most of all).
  for (const name of REQUIRED_FILES) if (!manifest.files[name]) incomplete(manifestPath, `no entry for ${name}`);
  return manifest;
}

/** Every file the manifest lists, checked against its checksum: arrays typed, JSON parsed, the ranker as bytes. */
function* readFiles(
  dir: string,
  manifest: Manifest,
  shared: boolean | undefined,
): Steps<{
  arrays: Arrays;
  json: Record<string, unknown>;
  text: Record<string, Uint8Array>;
  rankerOnnx: Uint8Array;
  propensityOnnx?: Uint8Array;
}> {
  const arrays: Arrays = {};
  const json: Record<string, unknown> = {};
  const text: Record<string, Uint8Array> = {};
  let rankerOnnx: Uint8Array = new Uint8Array(0);
  let propensityOnnx: Uint8Array | undefined;
  for (const [name, entry] of Object.entries(manifest.files)) {
    // Names stay inside the version directory.
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name))
      incomplete(join(dir, 'manifest.json'), `file name ${JSON.stringify(name)} is not a plain file name`);
    const isArray = !name.endsWith('.json') && !name.endsWith('.onnx') && !/^hnsw_\d+\.bin$/.test(name);
    const keep = SHARED_TEXT.includes(name);
    const bytes = yield* readCheckedSteps(join(dir, name), entry, (isArray || keep) && shared);
    if (keep && shared) text[name] = bytes;
    if (name.endsWith('.json')) json[name] = yield* parseJsonSteps(bytes);
    else if (name === 'ranker.onnx') rankerOnnx = bytes;
    else if (name === 'propensity.onnx') propensityOnnx = bytes;
    else if (isArray) arrays[name] = toTyped(bytes, entry, join(dir, name));
    yield;
  }
  return { arrays, json, text, rankerOnnx, propensityOnnx };
}

/**
 * The files whose parsed form is large and not typed arrays: a shared read keeps their bytes in
 * shared memory so a thread handed the bundle parses them itself (see bundle/threads.ts).
 */
const SHARED_TEXT = ['catalog.json', 'users.json'];

/** The catalogue and the users as a bundle holds them, from their files' parsed JSON. */
export function peopleAndItems(catalog: unknown, users: unknown): Pick<BundleData, 'items' | 'userIds' | 'users'> {
  const u = users as { ids: string[]; attributes: (BundleData['users'][number] | null)[] };
  return { items: catalog as BundleData['items'], userIds: u.ids, users: u.attributes.map((a) => a ?? undefined) };
}

/** The retrieval settings as stored: bundles from before a source have no field for it. */
type StoredRetrieval = Omit<BundleData['retrieval'], 'chainCandidates' | 'attributeCandidates'> & {
  chainCandidates?: number;
  attributeCandidates?: number;
};

/** A bundle from before the chain or the attribute source gives it no candidates. */
function retrievalOf(stored: StoredRetrieval): BundleData['retrieval'] {
  return {
    ...stored,
    chainCandidates: stored.chainCandidates ?? 0,
    attributeCandidates: stored.attributeCandidates ?? 0,
  };
}

/** Reads and checks every file of a bundle version against the manifest's checksums. */
export function readBundle(versionDir: string, options: { shared?: boolean } = {}): BundleData {
  return runAtOnce(bundleSteps(versionDir, options.shared));
}

/**
 * The same, awaiting `pace` between steps (a file's next 2 MiB read and hashed, the next 1 MB of a
 * large JSON array parsed; the longest 41-46 ms on the 100k-item bench bundle here, most under 15):
 * a serving thread that loads a new version (a reload) keeps answering meanwhile. It was one call
 * of 0.5-1.4 s.
 */
export function loadBundle(
  versionDir: string,
  options: { shared?: boolean; pace: () => Promise<void> },
): Promise<BundleData> {
  return runPaced(bundleSteps(versionDir, options.shared), options.pace);
}

function* bundleSteps(versionDir: string, shared: boolean | undefined): Steps<BundleData> {
  const dir = resolve(versionDir);
  const manifestPath = join(dir, 'manifest.json');
  const manifest = readManifest(dir);
  const { arrays, json, text, rankerOnnx, propensityOnnx } = yield* readFiles(dir, manifest, shared);
  const model = json['model.json'] as {
    als: { factors: number; regularization: number; alpha: number };
    knn: { numItems: number; k: number };
    follows: { numItems: number; k: number };
    popularity: { halfLifeDays: number; referenceTime: number };
    rules: Pick<AssociationRules, 'numItems' | 'transactions' | 'basis' | 'params'>;
    history: { numUsers: number; numItems: number };
    hnsw: BundleData['hnsw'];
    retrieval: StoredRetrieval;
    eventWeights: BundleData['eventWeights'];
    ease: Omit<NonNullable<BundleData['ease']>, 'B'> | null;
  };
  for (const p of model.hnsw.partitions) {
    if (!manifest.files[p.file])
      incomplete(manifestPath, `no entry for ${p.file} (an HNSW partition model.json lists)`);
  }
  const a = <T>(name: string): T => {
    const v = arrays[name];
    if (!v) incomplete(manifestPath, `no entry for ${name}`);
    return v as T;
  };
  const graph = (shape: { numItems: number; k: number }, files: [string, string, string]): ItemNeighbours => ({
    ...shape,
    indptr: a(files[0]),
    neighbours: a(files[1]),
    similarity: a(files[2]),
  });
  const knn = graph(model.knn, ['knn_indptr.i32', 'knn_neighbours.i32', 'knn_similarity.f32']);
  const follows = graph(model.follows, ['follows_indptr.i32', 'follows_items.i32', 'follows_weight.f32']);
  const data: BundleData = {
    manifest,
    dir,
    ...peopleAndItems(json['catalog.json'], json['users.json']),
    sharedText: shared ? { catalog: text['catalog.json'], users: text['users.json'] } : undefined,
    als: {
      ...model.als,
      itemFactors: a('als_item_factors.f32'),
      userFactors: a('als_user_factors.f32'),
      itemGram: a('als_item_gram.f64'),
    },
    knn,
    follows,
    popularity: {
      ...model.popularity,
      count: a('pop_count.f32'),
      trending: a('pop_trending.f32'),
      firstSeen: a('pop_first_seen.f64'),
      lastSeen: a('pop_last_seen.f64'),
      repeatShare: a('pop_repeat_share.f32'),
      repeatDays: a('pop_repeat_days.f32'),
    },
    rules: {
      ...model.rules,
      indptr: a('rules_indptr.i32'),
      consequent: a('rules_consequent.i32'),
      support: a('rules_support.f32'),
      confidence: a('rules_confidence.f32'),
      lift: a('rules_lift.f32'),
    },
    history: {
      ui: {
        ...model.history,
        indptr: a('hist_indptr.i32'),
        items: a('hist_items.i32'),
        count: a('hist_count.f32'),
        lastTime: a('hist_last_time.f64'),
        lastType: a('hist_last_type.u8'),
      },
      totals: { events: a('user_events.f32'), spend: a('user_spend.f64'), lastEventTime: a('user_last_event.f64') },
      rejected: { indptr: a('hist_rejected_indptr.i32'), items: a('hist_rejected_items.i32') },
    },
    featureSpec: json['features.json'] as BundleData['featureSpec'],
    segments: {
      ...(json['segments.json'] as Omit<BundleData['segments'], 'assignment'>),
      assignment: a('segments_assignment.i32'),
    },
    rankerOnnx,
    propensityOnnx,
    hnsw: model.hnsw,
    retrieval: retrievalOf(model.retrieval),
    eventWeights: model.eventWeights,
    ease: model.ease ? { ...model.ease, B: a('ease_weights.f32') } : undefined,
  };
  checkShapes(data, manifestPath);
  return data;
}
