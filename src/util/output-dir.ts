import {
  accessSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
} from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { VitrineError } from '../protocol/errors.js';

/** The file an earlier output of one kind holds, and how to tell that it is ours. */
export interface OutputMarker {
  file: string;
  /** Whether the parsed JSON of `file` is what we write (a web app's manifest.json is not). */
  isOurs: (json: unknown) => boolean;
  what: string;
}

/**
 * Checks, before any work, that an output directory may be written and replaced: it is absent,
 * empty, or an earlier output of the same kind (its marker file is ours). Anything else is someone's
 * data, and the atomic replace at the end of a build would delete it.
 */
export function prepareOutputDir(dir: string, marker: OutputMarker): void {
  const { what } = marker;
  // The swap at the end renames the path itself: a link would be replaced by a directory (its
  // target never written), the working directory pulled from under the shell.
  if (isLink(dir))
    throw new VitrineError(
      'conflict',
      `${dir} is a symbolic link (to ${readlinkSync(dir)}); name the directory itself`,
    );
  const fromOut = relative(resolve(dir), process.cwd());
  if (fromOut === '' || (!fromOut.startsWith('..') && !isAbsolute(fromOut)))
    throw new VitrineError(
      'conflict',
      `${dir || '""'} is the current directory or holds it; name a new directory below it`,
    );
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory())
      throw new VitrineError(
        'conflict',
        `${dir} is a file, not ${what}; refusing to replace it (choose another output path)`,
      );
    const entries = readdirSync(dir);
    if (entries.length > 0 && !holdsMarker(dir, marker))
      throw new VitrineError(
        'conflict',
        `${dir} already holds files and is not ${what} (no ${marker.file} written by Vitrine); refusing to replace it (choose another output path, or remove it yourself)`,
      );
  }
  const parent = dirname(dir);
  try {
    makeDirs(parent);
  } catch (e) {
    throw new VitrineError('io_error', `${dir} cannot be created: ${(e as Error).message}`);
  }
  if (!writable(parent)) throw new VitrineError('io_error', `${parent}: not writable, so ${dir} cannot be written`);
}

/**
 * Before any work: `file` (given as `flag`) can be written in a folder that exists, and is not a
 * directory; nor a link when it is `renamedOver` (a rename replaces the link, never its target).
 */
export function checkOutputFile(flag: string, file: string, renamedOver = false): void {
  const dir = dirname(resolve(file));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new VitrineError('not_found', `${flag} ${file}: the directory ${dir} does not exist`);
  if (!writable(dir)) throw new VitrineError('io_error', `${flag} ${file}: the directory ${dir} is not writable`);
  if (renamedOver && isLink(file))
    throw new VitrineError(
      'conflict',
      `${flag} ${file}: is a symbolic link (to ${readlinkSync(file)}); name the file itself`,
    );
  if (existsSync(file) && statSync(file).isDirectory())
    throw new VitrineError('invalid_argument', `${flag} ${file}: is a directory; name a file`);
}

/**
 * An output a command may replace only if it wrote it before: `isOurs` judges the file's first 8 KiB.
 * Checked before any work, so a long run does not end in a refusal.
 */
export function checkReplaceable(flag: string, path: string, writer: string, isOurs: (head: string) => boolean): void {
  checkOutputFile(flag, path, true);
  if (!existsSync(path) || statSync(path).size === 0) return;
  if (!isOurs(readFileSync(path, 'utf8').slice(0, 8192)))
    throw new VitrineError(
      'conflict',
      `${flag} ${path}: exists and is not one ${writer} wrote; refusing to replace it (choose another path, or remove it yourself)`,
    );
}

export function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * mkdir -p, one level at a time: Node 20's recursive mkdirSync never returns for a path under /proc
 * (it retries the ENOENT forever), where this fails at once with the level that cannot be made.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  for (; !existsSync(d); d = dirname(d)) missing.push(d);
  if (!statSync(d).isDirectory()) throw Object.assign(new Error(`${d} is not a directory`), { code: 'ENOTDIR' });
  for (const m of missing.reverse()) mkdirSync(m);
}

function holdsMarker(dir: string, marker: OutputMarker): boolean {
  try {
    return marker.isOurs(JSON.parse(readFileSync(join(dir, marker.file), 'utf8')));
  } catch {
    // Absent, unreadable or not JSON: not ours.
    return false;
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    // Absent, or under something that is not a directory: the checks below say which.
    return false;
  }
}
