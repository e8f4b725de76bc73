import { acquireWebGpu } from '../../backends/webgpu.js';
import { KernelUnavailable, writeTop, type ScoreKernel, type TopKBlock } from './kernel.js';

export type GpuJsMode = 'webasm' | 'async' | 'webgpu';

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
  static async create(
    itemFactors: Float32Array,
    numItems: number,
    d: number,
    mode: GpuJsMode = 'webasm',
    chunk = 8192,
  ): Promise<GpuJsKernel> {
    let device: string | undefined;
    if (mode === 'webgpu') {
      const status = await acquireWebGpu();
      if (!status.available) throw new KernelUnavailable(`WebGPU unavailable: ${status.reason}`);
      device = `WebGPU: ${status.adapter}`;
    }
    // Loaded on demand: gpu.js is large and only this backend needs it; its typings predate the
    // webasm/async/webgpu modes, hence the narrow local types below.
    const { GPU, input } = (await import('gpu.js')) as unknown as {
      GPU: new (o: { mode: string }) => GpuInstance;
      input: GpuInput;
    };
    return new GpuJsKernel(
      new GPU({ mode }),
      input,
      itemFactors,
      numItems,
      d,
      Math.min(chunk, Math.max(1, numItems)),
      mode,
      device,
    );
  }

  private kernelFor(users: number): GpuKernel {
    if (this.kernel && this.kernelUsers === users) return this.kernel;
    this.kernel = this.gpu.createKernel(
      function (
        this: { thread: { x: number; y: number }; constants: { d: number } },
        u: number[][],
        items: number[][],
      ): number {
        let s = 0;
        for (let c = 0; c < this.constants.d; c++) s += u[this.thread.y][c] * items[this.thread.x][c];
        return s;
      },
      { output: [this.chunk, users], constants: { d: this.d }, loopMaxIterations: this.d, tactic: 'precision' },
    );
    this.kernelUsers = users;
    return this.kernel;
  }

  async topK(
    users: Float32Array,
    count: number,
    k: number,
    exclude: readonly (ArrayLike<number> | undefined)[],
  ): Promise<TopKBlock> {
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
