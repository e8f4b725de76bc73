import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { VitrineError } from '../protocol/errors.js';

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

/** Reads a file and checks it against its manifest entry; a mismatch means a damaged or tampered bundle. */
export function readChecked(path: string, entry: FileEntry): Buffer {
  const buf = readFileSync(path);
  if (buf.length !== entry.bytes)
    throw new VitrineError('damaged', `${path}: ${buf.length} bytes, manifest says ${entry.bytes}`);
  const sum = sha256(buf);
  if (sum !== entry.sha256)
    throw new VitrineError(
      'damaged',
      `${path}: checksum ${sum.slice(0, 12)}… does not match the manifest's ${entry.sha256.slice(0, 12)}…`,
    );
  return buf;
}

/**
 * Backs the array with a SharedArrayBuffer when asked, so worker threads can share one copy of the
 * large arrays (embeddings, neighbour lists) instead of each holding its own.
 */
export function toTyped(buf: Buffer, entry: FileEntry, shared = false, path = 'an array file'): Typed {
  if (!entry.dtype || !Object.hasOwn(CTORS, entry.dtype))
    throw new VitrineError('damaged', `${path}: the manifest gives no dtype (${Object.keys(CTORS).join(', ')}) for it`);
  const Ctor = CTORS[entry.dtype];
  const backing = shared ? new SharedArrayBuffer(buf.length) : new ArrayBuffer(buf.length);
  new Uint8Array(backing).set(buf);
  // The lib typings only admit ArrayBuffer here, but every typed-array constructor accepts a SharedArrayBuffer.
  const a = new Ctor(backing as ArrayBuffer);
  if (entry.length !== undefined && a.length !== entry.length)
    throw new VitrineError('damaged', `${path}: ${a.length} values, the manifest says ${entry.length}`);
  return a;
}
