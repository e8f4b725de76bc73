import * as ort from 'onnxruntime-node';
import { encodeModel, floatInput, floatTensor, op, typedInput } from '../rank/onnx-graph.js';
import { topK } from '../util/topk.js';
import { acquireWebGpu } from './webgpu.js';

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
  topK(users: Float32Array, count: number, k: number, exclude: readonly (ArrayLike<number> | undefined)[]): Promise<TopKBlock>;
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

/** Picks the best k after dropping excluded items from a longer, sorted candidate row. */
function filterRow(items: ArrayLike<number>, scores: ArrayLike<number>, from: number, len: number, k: number, excluded: Set<number> | undefined, outItems: Int32Array, outScores: Float32Array, at: number): void {
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

/**
 * onnxruntime MatMul fused with TopK in one graph, so only users × k' values come back to JS, not
 * users × items scores. k' = k + the most excluded items of any user in the block; exclusions are
 * dropped afterwards, which keeps the result exact.
 */
export class OnnxTopKKernel implements ScoreKernel {
  readonly name = 'onnx' as const;
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly numItems: number,
  ) {}

  static async create(itemFactors: Float32Array, numItems: number, d: number, threads = 1): Promise<OnnxTopKKernel> {
    const itemsT = new Float32Array(d * numItems);
    for (let i = 0; i < numItems; i++) for (let c = 0; c < d; c++) itemsT[c * numItems + i] = itemFactors[i * d + c];
    const model = encodeModel({
      name: 'batch_topk',
      nodes: [op('MatMul', ['users', 'items_t'], ['scores']), op('TopK', ['scores', 'k'], ['values', 'indices'], '', [{ name: 'axis', i: -1 }, { name: 'largest', i: 1 }, { name: 'sorted', i: 1 }])],
      initializers: [floatTensor('items_t', [d, numItems], itemsT)],
      inputs: [floatInput('users', ['B', d]), typedInput('k', [1], 'int64')],
      outputs: [floatInput('values', ['B', 'K']), typedInput('indices', ['B', 'K'], 'int64')],
    });
    const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    return new OnnxTopKKernel(session, numItems);
  }

  async topK(users: Float32Array, count: number, k: number, exclude: readonly (ArrayLike<number> | undefined)[]): Promise<TopKBlock> {
    const d = users.length / count;
    let extra = 0;
    for (let u = 0; u < count; u++) extra = Math.max(extra, exclude[u]?.length ?? 0);
    // TopK refuses a k above the axis length; rows then come back padded by filterRow.
    const kk = Math.min(k + extra, this.numItems);
    const out = await this.session.run({ users: new ort.Tensor('float32', users.subarray(0, count * d), [count, d]), k: new ort.Tensor('int64', BigInt64Array.from([BigInt(kk)]), [1]) });
    const values = out.values.data as Float32Array;
    const indices = out.indices.data as BigInt64Array;
    const width = out.values.dims[1];
    const idx = Int32Array.from(indices, (v) => Number(v));
    const items = new Int32Array(count * k);
    const scores = new Float32Array(count * k);
    for (let u = 0; u < count; u++) {
      const ex = exclude[u];
      filterRow(idx, values, u * width, width, k, ex && ex.length > 0 ? new Set(Array.from(ex)) : undefined, items, scores, u * k);
    }
    return { items, scores };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** Plain TypeScript: the reference backend (a register-blocked loop, four items at a time). */
export class JsKernel implements ScoreKernel {
  readonly name = 'js' as const;
  private readonly row: Float32Array;
  private readonly mask: Uint8Array;

  constructor(
    private readonly itemFactors: Float32Array,
    private readonly numItems: number,
    private readonly d: number,
  ) {
    this.row = new Float32Array(numItems);
    this.mask = new Uint8Array(numItems);
  }

  async topK(users: Float32Array, count: number, k: number, exclude: readonly (ArrayLike<number> | undefined)[]): Promise<TopKBlock> {
    const { d, numItems, itemFactors: F, row, mask } = this;
    const items = new Int32Array(count * k);
    const scores = new Float32Array(count * k);
    for (let u = 0; u < count; u++) {
      const uo = u * d;
      let i = 0;
      for (; i + 3 < numItems; i += 4) {
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        const o0 = i * d;
        for (let c = 0; c < d; c++) {
          const x = users[uo + c];
          s0 += x * F[o0 + c];
          s1 += x * F[o0 + d + c];
          s2 += x * F[o0 + 2 * d + c];
          s3 += x * F[o0 + 3 * d + c];
        }
        row[i] = s0;
        row[i + 1] = s1;
        row[i + 2] = s2;
        row[i + 3] = s3;
      }
      for (; i < numItems; i++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += users[uo + c] * F[i * d + c];
        row[i] = s;
      }
      writeTop(row, k, exclude[u], mask, items, scores, u * k);
    }
    return { items, scores };
  }

  async close(): Promise<void> {}
}

/** Top-k of a full score row into the output block, honouring the user's exclusions. */
export function writeTop(row: Float32Array, k: number, ex: ArrayLike<number> | undefined, mask: Uint8Array, items: Int32Array, scores: Float32Array, at: number): void {
  if (ex) for (let j = 0; j < ex.length; j++) mask[ex[j]] = 1;
  const top = topK(row, k, ex ? mask : undefined);
  if (ex) for (let j = 0; j < ex.length; j++) mask[ex[j]] = 0;
  for (let j = 0; j < k; j++) {
    items[at + j] = j < top.length ? top[j] : -1;
    scores[at + j] = j < top.length ? row[top[j]] : NaN;
  }
}

/** A backend that cannot run on this machine (as opposed to one that broke while running). */
export class KernelUnavailable extends Error {}

type GpuJsMode = 'webasm' | 'async' | 'webgpu';

/**
 * gpu.js: the dot products as a kernel over (item, user) cells, compiled to WebAssembly with f32x4
 * SIMD (`webasm`, `async` across threads) or to a WGSL compute shader (`webgpu`). Items are
 * processed in fixed-size chunks (the last one zero-padded) so every call has the same output shape
 * and compiles once.
 */
export class GpuJsKernel implements ScoreKernel {
  readonly name: 'gpujs' | 'gpujs-async' | 'webgpu';
  private readonly chunks: Float32Array[] = [];
  private kernel: GpuKernel | undefined;
  private kernelUsers = 0;
  private readonly row: Float32Array;
  private readonly mask: Uint8Array;

  private constructor(
    private readonly gpu: GpuInstance,
    private readonly input: GpuInput,
    itemFactors: Float32Array,
    private readonly numItems: number,
    private readonly d: number,
    private readonly chunk: number,
    readonly mode: GpuJsMode,
    readonly device: string | undefined,
  ) {
    this.name = mode === 'async' ? 'gpujs-async' : mode === 'webgpu' ? 'webgpu' : 'gpujs';
    for (let i0 = 0; i0 < numItems; i0 += chunk) {
      const c = new Float32Array(chunk * d);
      c.set(itemFactors.subarray(i0 * d, Math.min(numItems, i0 + chunk) * d));
      this.chunks.push(c);
    }
    this.row = new Float32Array(numItems);
    this.mask = new Uint8Array(numItems);
  }

  /** `chunk` items per kernel call (8192 was also the fastest of 8192, 32768 and 100,000 on WebGPU on an H100). */
  static async create(itemFactors: Float32Array, numItems: number, d: number, mode: GpuJsMode = 'webasm', chunk = 8192): Promise<GpuJsKernel> {
    let device: string | undefined;
    if (mode === 'webgpu') {
      const status = await acquireWebGpu();
      if (!status.available) throw new KernelUnavailable(`WebGPU unavailable: ${status.reason}`);
      device = `WebGPU: ${status.adapter}`;
    }
    // Loaded on demand: gpu.js is large and only this backend needs it; its typings predate the
    // webasm/async/webgpu modes, hence the narrow local types below.
    const { GPU, input } = (await import('gpu.js')) as unknown as { GPU: new (o: { mode: string }) => GpuInstance; input: GpuInput };
    return new GpuJsKernel(new GPU({ mode }), input, itemFactors, numItems, d, Math.min(chunk, Math.max(1, numItems)), mode, device);
  }

  private kernelFor(users: number): GpuKernel {
    if (this.kernel && this.kernelUsers === users) return this.kernel;
    this.kernel = this.gpu.createKernel(
      function (this: { thread: { x: number; y: number }; constants: { d: number } }, u: number[][], items: number[][]): number {
        let s = 0;
        for (let c = 0; c < this.constants.d; c++) s += u[this.thread.y][c] * items[this.thread.x][c];
        return s;
      },
      { output: [this.chunk, users], constants: { d: this.d }, loopMaxIterations: this.d, tactic: 'precision' },
    );
    this.kernelUsers = users;
    return this.kernel;
  }

  async topK(users: Float32Array, count: number, k: number, exclude: readonly (ArrayLike<number> | undefined)[]): Promise<TopKBlock> {
    const { d, numItems, chunk } = this;
    const kernel = this.kernelFor(count);
    const u = this.input(users.subarray(0, count * d), [d, count]);
    const rows: Float32Array[][] = [];
    for (const c of this.chunks) rows.push((await kernel(u, this.input(c, [d, chunk]))) as Float32Array[]);
    const items = new Int32Array(count * k);
    const scores = new Float32Array(count * k);
    for (let r = 0; r < count; r++) {
      for (let j = 0; j < rows.length; j++) {
        const start = j * chunk;
        this.row.set(rows[j][r].subarray(0, Math.min(chunk, numItems - start)), start);
      }
      writeTop(this.row, k, exclude[r], this.mask, items, scores, r * k);
    }
    return { items, scores };
  }

  async close(): Promise<void> {
    await this.gpu.destroy?.();
  }
}

// The slice of gpu.js's API this module uses (its bundled typings do not cover the wasm/async modes).
type GpuKernel = ((...args: unknown[]) => unknown) & { setOutput?: (o: number[]) => void };
interface GpuInstance {
  createKernel(fn: (this: never, ...args: never[]) => number, settings: Record<string, unknown>): GpuKernel;
  destroy?: () => unknown;
}
type GpuInput = (data: Float32Array, size: number[]) => unknown;
