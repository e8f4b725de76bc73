import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFor, SIZE_PRESETS, type SizePreset, type SyntheticConfig } from './synthetic/config.js';
import { GENERATOR_VERSION, generateShop } from './synthetic/write.js';
import { note } from '../util/progress.js';
import { VitrineError } from '../protocol/errors.js';
import { projectPath } from '../util/project.js';
import { closestNames } from '../util/suggest.js';

/**
 * Where shared real data sets live: VITRINE_DATA (relative to the working directory), else
 * ../shared/data beside the project, found from this module (src/data or dist/data) so that the
 * commands work from any directory.
 */
export function sharedDataRoot(): string {
  return process.env.VITRINE_DATA
    ? resolve(process.env.VITRINE_DATA)
    : fileURLToPath(new URL('../../../shared/data', import.meta.url));
}

/** Where generated shops are cached between runs: VITRINE_CACHE, else the project's .vitrine-cache (whatever the working directory). */
export function cacheRoot(): string {
  return projectPath(process.env.VITRINE_CACHE, '.vitrine-cache');
}

export interface SyntheticSpec {
  size: SizePreset;
  seed: number;
  overrides?: Partial<SyntheticConfig>;
}

/** `synthetic` or `synthetic:<size>`, else undefined. */
export function parseSyntheticSpec(spec: string, seed: number): SyntheticSpec | undefined {
  const m = /^synthetic(?::(\w+))?$/.exec(spec);
  if (!m) return undefined;
  const size = (m[1] ?? 'medium') as SizePreset;
  if (!Object.hasOwn(SIZE_PRESETS, size))
    throw new VitrineError(
      'invalid_argument',
      `unknown synthetic size "${m[1]}" (expected one of ${Object.keys(SIZE_PRESETS).join(', ')})`,
    );
  return { size, seed };
}

/**
 * Turns a `--data` value into a directory: an existing path as is; `synthetic[:size]` generated
 * into the cache (reused when a shop with the same config is already there); otherwise a name
 * under the shared data root (`ml-100k`, `amazon-beauty`).
 */
export async function resolveDataDir(spec: string, seed = 42): Promise<string> {
  const synth = parseSyntheticSpec(spec, seed);
  if (synth) return ensureSynthetic(synth);
  if (existsSync(spec)) return resolve(spec);
  const shared = join(sharedDataRoot(), spec);
  if (existsSync(shared)) return shared;
  const known = [...sharedDataSets(), 'synthetic', ...Object.keys(SIZE_PRESETS).map((p) => `synthetic:${p}`)];
  const near = closestNames(spec, known);
  const hint =
    near.length > 0 ? `; did you mean ${near.map((n) => `"${n}"`).join(' or ')}?` : ` (known: ${known.join(', ')})`;
  throw new VitrineError(
    'invalid_argument',
    `--data: "${spec}" is not a directory, not "synthetic[:tiny|small|medium|large]", and not a data set under ${sharedDataRoot()} (set VITRINE_DATA to change that root)${hint}`,
  );
}

/** The data sets under the shared root (its subdirectories), for suggestions. */
function sharedDataSets(): string[] {
  try {
    return readdirSync(sharedDataRoot(), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

export async function ensureSynthetic(spec: SyntheticSpec): Promise<string> {
  const config = configFor(spec.size, { seed: spec.seed, ...spec.overrides });
  const dir = join(cacheRoot(), 'synthetic', `${spec.size}-seed${spec.seed}`);
  const metaPath = join(dir, 'meta.json');
  if (existsSync(metaPath)) {
    try {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { config?: unknown; generatorVersion?: unknown };
      // A shop an older generator wrote lacks files this one writes (promotions.csv in its format).
      if (meta.generatorVersion === GENERATOR_VERSION && JSON.stringify(meta.config) === JSON.stringify(config))
        return dir;
    } catch {
      // An unreadable meta.json means a damaged cache entry: regenerate it below.
    }
  }
  note(`generating synthetic shop (${spec.size}, seed ${spec.seed}) into ${dir}`);
  await generateShop(config, dir);
  return dir;
}
