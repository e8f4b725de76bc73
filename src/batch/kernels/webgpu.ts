import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { KernelUnavailable, type ScoreKernel, type TopKBlock } from './kernel.js';
import type { WebGpuReply, WebGpuRequest } from './webgpu-process.js';

/** Dawn's notice on every adapter request; it says nothing about this program. */
const DAWN_NOISE = /DawnExperimentalSubgroupLimits is deprecated/;

/**
 * The `webgpu` backend: gpu.js on WebGPU, run in a child process (webgpu-process.ts says why) and
 * called like any other kernel. Blocks go over IPC with structured clone (typed arrays as such):
 * 64 KB of user vectors in and k results per user back for a block of 256 users × 64 dims.
 */
export class WebGpuProcessKernel implements ScoreKernel {
  readonly name = 'webgpu' as const;
  private pending: ((r: WebGpuReply) => void) | undefined;
  private exited: string | undefined;
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly d: number,
    public device: string | undefined,
  ) {
    child.stderr!.on('data', (b: Buffer) => {
      for (const line of b.toString().split('\n'))
        if (line.trim() && !DAWN_NOISE.test(line)) this.stderr = (this.stderr + line + '\n').slice(-2000);
    });
    child.on('message', (r: WebGpuReply) => {
      const answer = this.pending;
      this.pending = undefined;
      answer?.(r);
    });
    child.on('exit', (code, signal) => {
      const why =
        this.stderr
          .trim()
          .split('\n')
          .find((l) => /error|abort/i.test(l)) ?? this.stderr.trim().split('\n').pop();
      this.fail(`the WebGPU process ended (${signal ?? `exit code ${String(code)}`})${why ? `: ${why.trim()}` : ''}`);
    });
    // It could not be started, or a message could not reach it (it had just ended).
    child.on('error', (e) => this.fail(`the WebGPU process failed: ${e.message}`));
  }

  private fail(why: string): void {
    this.exited ??= why;
    const answer = this.pending;
    this.pending = undefined;
    answer?.({ op: 'error', message: this.exited, unavailable: false });
  }

  static async create(itemFactors: Float32Array, numItems: number, d: number): Promise<WebGpuProcessKernel> {
    const script = fileURLToPath(new URL('../../../dist/batch/kernels/webgpu-process.js', import.meta.url));
    const child = fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const kernel = new WebGpuProcessKernel(child, d, undefined);
    // Copies: the bundle's arrays live in SharedArrayBuffers, which do not cross a process boundary.
    const reply = await kernel.call({ op: 'open', items: itemFactors.slice(0, numItems * d), numItems, d });
    if (reply.op === 'error') {
      child.kill();
      throw reply.unavailable ? new KernelUnavailable(reply.message) : new Error(reply.message);
    }
    if (reply.op === 'open') kernel.device = reply.device;
    return kernel;
  }

  /** One request at a time: the callers await each block before the next. */
  private call(request: WebGpuRequest): Promise<WebGpuReply> {
    if (this.exited) return Promise.resolve({ op: 'error', message: this.exited, unavailable: false });
    if (this.pending) throw new Error('WebGpuProcessKernel: a call is already in flight');
    return new Promise((resolve) => {
      this.pending = resolve;
      this.child.send(request);
    });
  }

  async topK(
    users: Float32Array,
    count: number,
    k: number,
    exclude: readonly (ArrayLike<number> | undefined)[],
  ): Promise<TopKBlock> {
    const reply = await this.call({
      op: 'topK',
      users: users.slice(0, count * this.d),
      count,
      k,
      exclude: exclude.map((e) => (e ? Int32Array.from(e) : undefined)),
    });
    if (reply.op !== 'topK') throw new Error(reply.op === 'error' ? reply.message : `unexpected reply ${reply.op}`);
    return { items: reply.items, scores: reply.scores };
  }

  async close(): Promise<void> {
    if (this.exited) {
      this.child.kill();
      return;
    }
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ op: 'close' } satisfies WebGpuRequest);
    await gone;
  }
}
