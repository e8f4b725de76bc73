import { topK } from '../../util/topk.js';

/**
 * Exact batched top-K over the whole catalogue: scores = U · Iᵀ for a block of users, then the k
 * best items per user. Interchangeable backends (see KERNELS); the batch job picks the fastest by a short
 * measurement at start-up (or --backend).
 */
export interface TopKBlock {
  /** users × k item indices, best first (rows padded with -1 when fewer items are eligible). */
  items: Int32Array;
  scores: Float32Array;
}

export interface ScoreKernel {
  readonly name: KernelName;
  /** The device it runs on where that is not this process's CPU (the WebGPU adapter). */
  readonly device?: string;
  /** Top `k` per user of `users` (count × d), skipping `exclude[u]` items for user u. */
  topK(
    users: Float32Array,
    count: number,
    k: number,
    exclude: readonly (ArrayLike<number> | undefined)[],
  ): Promise<TopKBlock>;
  close(): Promise<void>;
}

/**
 * `gpujs` runs gpu.js on one thread (WebAssembly with SIMD), like onnx and js, and the job runs one
 * per worker; `gpujs-async` is gpu.js's async mode, which spreads a kernel over its own threads, so
 * the job runs it in a single worker; `webgpu` is gpu.js on WebGPU through Dawn, in a process of
 * its own (webgpu-process.ts) driven from a single worker, and unavailable where Dawn does not load
 * or no adapter answers. (Async mode would move to WebGPU by itself if `navigator.gpu` existed; it
 * stays on the CPU, since Dawn cannot be loaded in worker threads.)
 */
export const KERNELS = ['onnx', 'gpujs', 'gpujs-async', 'webgpu', 'js'] as const;
export type KernelName = (typeof KERNELS)[number];

/** A backend that cannot run on this machine (as opposed to one that broke while running). */
export class KernelUnavailable extends Error {}

/** Picks the best k after dropping excluded items from a longer, sorted candidate row. */
export function filterRow(
  items: ArrayLike<number>,
  scores: ArrayLike<number>,
  from: number,
  len: number,
  k: number,
  excluded: Set<number> | undefined,
  outItems: Int32Array,
  outScores: Float32Array,
  at: number,
): void {
  let w = 0;
  for (let j = 0; j < len && w < k; j++) {
    const i = items[from + j];
    if (excluded?.has(i)) continue;
    outItems[at + w] = i;
    outScores[at + w] = scores[from + j];
    w++;
  }
  for (; w < k; w++) {
    outItems[at + w] = -1;
    outScores[at + w] = NaN;
  }
}

/** Top-k of a full score row into the output block, honouring the user's exclusions. */
export function writeTop(
  row: Float32Array,
  k: number,
  ex: ArrayLike<number> | undefined,
  mask: Uint8Array,
  items: Int32Array,
  scores: Float32Array,
  at: number,
): void {
  if (ex) for (let j = 0; j < ex.length; j++) mask[ex[j]] = 1;
  const top = topK(row, k, ex ? mask : undefined);
  if (ex) for (let j = 0; j < ex.length; j++) mask[ex[j]] = 0;
  for (let j = 0; j < k; j++) {
    items[at + j] = j < top.length ? top[j] : -1;
    scores[at + j] = j < top.length ? row[top[j]] : NaN;
  }
}
