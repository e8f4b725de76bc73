/**
 * The WebGPU kernel's own process, driven over IPC by `WebGpuProcessKernel`. Dawn cannot live in a
 * worker thread here: it serves one JavaScript thread per process, and a thread terminated while
 * Dawn is loaded aborts the whole process (both seen on an H100). A process of its own exits cleanly.
 */
import { GpuJsKernel } from './gpujs.js';
import { KernelUnavailable } from './kernel.js';

export type WebGpuRequest =
  | { op: 'open'; items: Float32Array; numItems: number; d: number }
  | { op: 'topK'; users: Float32Array; count: number; k: number; exclude: (Int32Array | undefined)[] }
  | { op: 'close' };

export type WebGpuReply =
  | { op: 'open'; device: string }
  | { op: 'topK'; items: Int32Array; scores: Float32Array }
  | { op: 'error'; message: string; unavailable: boolean };

let kernel: GpuJsKernel | undefined;

async function answer(m: WebGpuRequest): Promise<WebGpuReply> {
  if (m.op === 'open') {
    kernel = await GpuJsKernel.create(m.items, m.numItems, m.d, 'webgpu');
    return { op: 'open', device: kernel.device! };
  }
  if (m.op === 'close') process.exit(0);
  if (!kernel) throw new Error('topK before open');
  const block = await kernel.topK(m.users, m.count, m.k, m.exclude);
  return { op: 'topK', items: block.items, scores: block.scores };
}

// Requests are answered one at a time, in order: the parent waits for each reply.
let queue = Promise.resolve();
process.on('message', (m: WebGpuRequest) => {
  queue = queue.then(async () => {
    const reply = await answer(m).catch(
      (e: unknown): WebGpuReply => ({
        op: 'error',
        message: e instanceof Error ? e.message : String(e),
        unavailable: e instanceof KernelUnavailable,
      }),
    );
    process.send!(reply);
  });
});
// The parent (a batch worker, or the process choosing a backend) is gone: so is the work.
process.on('disconnect', () => process.exit(0));
