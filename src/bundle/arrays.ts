import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { VitrineError } from '../protocol/errors.js';
import type { Steps } from '../util/steps.js';

/** Typed arrays as raw little-endian files: memory-mappable in spirit, trivially portable, checksummed. */
export type DType = 'f32' | 'f64' | 'i32' | 'u8';
export type Typed = Float32Array | Float64Array | Int32Array | Uint8Array;

const CTORS = { f32: Float32Array, f64: Float64Array, i32: Int32Array, u8: Uint8Array } as const;

export function dtypeOf(a: Typed): DType {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Int32Array) return 'i32';
  return 'u8';
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface FileEntry {
  bytes: number;
  sha256: string;
  dtype?: DType;
  length?: number;
}

export async function writeArray(path: string, a: Typed): Promise<FileEntry> {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  await writeFile(path, bytes);
  return { bytes: bytes.length, sha256: sha256(bytes), dtype: dtypeOf(a), length: a.length };
}

export async function writeBytes(path: string, data: Uint8Array | string): Promise<FileEntry> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  await writeFile(path, bytes);
  return { bytes: bytes.length, sha256: sha256(bytes) };
}

/** Bytes read and hashed between two yields of readCheckedSteps (a few ms a step). */
const READ_STEP = 2 << 20;

/**
 * Reads a file into a fresh buffer (a SharedArrayBuffer when `shared`: worker threads then read
 * one copy of the large arrays instead of each holding its own) and checks it against its manifest
 * entry as it goes, a step per READ_STEP bytes; a mismatch means a damaged or tampered bundle.
 */
export function* readCheckedSteps(path: string, entry: FileEntry, shared = false): Steps<Uint8Array> {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size !== entry.bytes) throw new VitrineError('damaged', `${path}: ${size} bytes, manifest says ${entry.bytes}`);
    const bytes = new Uint8Array(shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
    const hash = createHash('sha256');
    for (let at = 0; at < size; ) {
      const n = readSync(fd, bytes, at, Math.min(READ_STEP, size - at), at);
      if (n === 0) throw new VitrineError('damaged', `${path}: ended at ${at} bytes while being read`);
      hash.update(bytes.subarray(at, at + n));
      at += n;
      if (at < size) yield;
    }
    const sum = hash.digest('hex');
    if (sum !== entry.sha256)
      throw new VitrineError(
        'damaged',
        `${path}: checksum ${sum.slice(0, 12)}… does not match the manifest's ${entry.sha256.slice(0, 12)}…`,
      );
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/** The file's bytes as the array its manifest entry describes (a view: no copy). */
export function toTyped(bytes: Uint8Array, entry: FileEntry, path = 'an array file'): Typed {
  if (!entry.dtype || !Object.hasOwn(CTORS, entry.dtype))
    throw new VitrineError('damaged', `${path}: the manifest gives no dtype (${Object.keys(CTORS).join(', ')}) for it`);
  const Ctor = CTORS[entry.dtype];
  if (bytes.byteLength % Ctor.BYTES_PER_ELEMENT !== 0)
    throw new VitrineError(
      'damaged',
      `${path}: ${bytes.byteLength} bytes is not a whole number of ${entry.dtype} values`,
    );
  // The lib typings only admit ArrayBuffer here, but every typed-array constructor accepts a SharedArrayBuffer.
  const a = new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / Ctor.BYTES_PER_ELEMENT);
  if (entry.length !== undefined && a.length !== entry.length)
    throw new VitrineError('damaged', `${path}: ${a.length} values, the manifest says ${entry.length}`);
  return a;
}
