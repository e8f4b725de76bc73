import { VitrineError } from '../protocol/errors.js';
import type { FileEntry } from './arrays.js';
import type { OutputMarker } from '../util/output-dir.js';

/**
 * 2: the HNSW index became norm partitions (hnsw_<p>.bin); 3: partitions store vectors scaled to norm
 * 1; 4: repeat-purchase and basket features (pop_repeat_*.f32, four more ranker inputs, own candidates)
 * and each shopper's negative feedback (hist_rejected_*.i32) and last event type per item (hist_last_type.u8).
 */
export const SCHEMA_VERSION = 5;

/** A bundle version directory, of this schema or an older one, may be rebuilt in place. */
export const BUNDLE_MARKER: OutputMarker = {
  file: 'manifest.json',
  what: 'a bundle version',
  isOurs: (m) =>
    m !== null &&
    typeof m === 'object' &&
    typeof (m as Partial<Manifest>).schemaVersion === 'number' &&
    typeof (m as Partial<Manifest>).files === 'object',
};

/** Everything a reader needs to trust and use a bundle, and a person needs to know what is in it. */
export interface Manifest {
  schemaVersion: number;
  bundle: string;
  version: string;
  createdAt: string;
  vitrineVersion: string;
  data: {
    format: string;
    path: string;
    events: number;
    users: number;
    items: number;
    /** sha256 over the events, user ids and item ids: evaluate checks it names the same data. */
    fingerprint: string;
    /** `protocol`: models saw only the protocol's train split (evaluable); `none`: all events (for production). */
    holdout: 'protocol' | 'none';
    trainEvents: number;
    referenceTime: number;
    /** Present when the data was loaded with --lenient: what was skipped and why (evaluate reloads it the same way). */
    skipped?: { skipped: number; byReason: Record<string, number>; examples: string[] };
    /** Present when trained with --forget: how many shoppers (and their events) were left out. */
    forgotten?: { users: number; events: number };
  };
  parameters: Record<string, unknown>;
  dimensions: { items: number; users: number; factors: number; features: number };
  featureNames: string[];
  checks: Record<string, number | string>;
  files: Record<string, FileEntry>;
  timings: Record<string, number>;
  metrics?: Record<string, unknown>;
}

export function validateManifest(m: unknown, where: string): Manifest {
  const fail = (what: string): never => {
    throw new VitrineError('damaged', `${where}: not a valid Vitrine bundle manifest (${what})`);
  };
  if (m === null || typeof m !== 'object') fail('not a JSON object');
  const o = m as Record<string, unknown>;
  if (o.schemaVersion !== SCHEMA_VERSION)
    fail(
      `schemaVersion ${JSON.stringify(o.schemaVersion)}, this Vitrine reads ${SCHEMA_VERSION}; retrain the bundle with this version`,
    );
  for (const key of ['bundle', 'version', 'createdAt'] as const)
    if (typeof o[key] !== 'string') fail(`"${key}" missing`);
  for (const key of ['data', 'dimensions', 'files', 'parameters'] as const)
    if (o[key] === null || typeof o[key] !== 'object') fail(`"${key}" missing`);
  return o as unknown as Manifest;
}
