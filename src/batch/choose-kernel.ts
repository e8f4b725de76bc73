import { counted, note } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { GpuJsKernel } from './kernels/gpujs.js';
import { JsKernel } from './kernels/js.js';
import { KERNELS, KernelUnavailable, type KernelName, type ScoreKernel, type TopKBlock } from './kernels/kernel.js';
import { OnnxTopKKernel } from './kernels/onnx.js';
import { WebGpuProcessKernel } from './kernels/webgpu.js';

export async function createKernel(
  name: KernelName,
  itemFactors: Float32Array,
  numItems: number,
  d: number,
): Promise<ScoreKernel> {
  if (name === 'onnx') return OnnxTopKKernel.create(itemFactors, numItems, d, 1);
  if (name === 'gpujs') return GpuJsKernel.create(itemFactors, numItems, d, 'webasm');
  if (name === 'gpujs-async') return GpuJsKernel.create(itemFactors, numItems, d, 'async');
  if (name === 'webgpu') return WebGpuProcessKernel.create(itemFactors, numItems, d);
  return new JsKernel(itemFactors, numItems, d);
}

/**
 * The job's worker count for a backend: one for a backend that brings its own threads (gpujs-async)
 * or its own device (webgpu: one GPU, and its scaling across processes is not measured).
 */
export function workersFor(kernel: KernelName, workers: number): number {
  return kernel === 'gpujs-async' || kernel === 'webgpu' ? 1 : workers;
}

/** The share of `a`'s top-k items that `b` also returns, over all users (1: the same lists up to order). */
export function sameItems(a: TopKBlock, b: TopKBlock, users: number, k: number): number {
  let same = 0;
  for (let u = 0; u < users; u++) {
    const mine = new Set(a.items.subarray(u * k, (u + 1) * k));
    for (const i of b.items.subarray(u * k, (u + 1) * k)) if (mine.has(i)) same++;
  }
  return same / (users * k);
}

export interface KernelTrial {
  kernel: KernelName;
  usersPerSecond: number;
  gflops: number;
  /** What the job would reach: users/s times the workers it would run this backend in. */
  expectedUsersPerSecond: number;
  /** Where it ran, when not on this process's CPU (the WebGPU adapter). */
  device?: string;
  /** Why it cannot run on this machine. */
  unavailable?: string;
  error?: string;
}

/**
 * Times every backend on the same sample block (after a warm-up that compiles it) and returns the
 * one the job would run fastest: a single-threaded backend runs in each of `workers` workers, a
 * threaded one (gpujs-async) or a GPU one (webgpu) in one, so each measured rate is scaled by its
 * worker count. A backend on a GPU counts only if its top-K matches the TypeScript kernel's.
 */
export async function chooseKernel(
  itemFactors: Float32Array,
  numItems: number,
  d: number,
  sampleUsers = 16,
  k = 50,
  workers = 1,
): Promise<{ best: KernelName; trials: KernelTrial[] }> {
  const rng = new Rng(3);
  const users = Float32Array.from({ length: sampleUsers * d }, () => rng.normal());
  const exclude = Array.from({ length: sampleUsers }, () => undefined);
  const flops = 2 * sampleUsers * numItems * d;
  const trials: KernelTrial[] = [];
  const timed = (kernel: KernelName, seconds: number, device?: string): KernelTrial => {
    const usersPerSecond = Math.round(sampleUsers / seconds);
    return {
      kernel,
      usersPerSecond,
      gflops: Number((flops / seconds / 1e9).toFixed(2)),
      expectedUsersPerSecond: usersPerSecond * workersFor(kernel, workers),
      device,
    };
  };
  const failed = (kernel: KernelName, why: { unavailable: string } | { error: string }): KernelTrial => ({
    kernel,
    usersPerSecond: 0,
    gflops: 0,
    expectedUsersPerSecond: 0,
    ...why,
  });
  for (const name of KERNELS) {
    try {
      const kernel = await createKernel(name, itemFactors, numItems, d);
      const got = await kernel.topK(users, sampleUsers, k, exclude);
      const t0 = performance.now();
      await kernel.topK(users, sampleUsers, k, exclude);
      const seconds = (performance.now() - t0) / 1000;
      await kernel.close();
      // A GPU answers through a driver and a shader compiler: its top-K must match before it counts.
      const same = kernel.device
        ? sameItems(
            await new JsKernel(itemFactors, numItems, d).topK(users, sampleUsers, k, exclude),
            got,
            sampleUsers,
            k,
          )
        : 1;
      if (same < 0.999)
        trials.push(
          failed(name, {
            error: `its top-${k} differs from the TypeScript kernel's (${(same * 100).toFixed(1)}% of items the same)`,
          }),
        );
      else trials.push(timed(name, seconds, kernel.device));
    } catch (e) {
      trials.push(
        failed(name, e instanceof KernelUnavailable ? { unavailable: e.message } : { error: (e as Error).message }),
      );
    }
  }
  const best = [...trials].sort((a, b) => b.expectedUsersPerSecond - a.expectedUsersPerSecond)[0];
  const described = (t: KernelTrial): string =>
    t.unavailable
      ? `${t.kernel} not here (${t.unavailable})`
      : t.error
        ? `${t.kernel} failed (${t.error})`
        : `${t.kernel}${t.device ? ` on ${t.device}` : ''} ${t.usersPerSecond} users/s (${t.gflops} GFLOP/s) × ${counted(workersFor(t.kernel, workers), 'worker')}`;
  note(
    `kernel backends (${sampleUsers} users × ${numItems} items × ${d} dims): ${trials.map(described).join(', ')}; using ${best.kernel}`,
  );
  return { best: best.kernel, trials };
}
