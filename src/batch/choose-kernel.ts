import { counted, note } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { GpuJsKernel, JsKernel, KERNELS, OnnxTopKKernel, type KernelName, type ScoreKernel } from './kernels.js';

export async function createKernel(name: KernelName, itemFactors: Float32Array, numItems: number, d: number): Promise<ScoreKernel> {
  if (name === 'onnx') return OnnxTopKKernel.create(itemFactors, numItems, d, 1);
  if (name === 'gpujs') return GpuJsKernel.create(itemFactors, numItems, d, 'webasm');
  if (name === 'gpujs-async') return GpuJsKernel.create(itemFactors, numItems, d, 'async');
  return new JsKernel(itemFactors, numItems, d);
}

/** The job's worker count for a backend: one for a backend that brings its own threads. */
export function workersFor(kernel: KernelName, workers: number): number {
  return kernel === 'gpujs-async' ? 1 : workers;
}

export interface KernelTrial {
  kernel: KernelName;
  usersPerSecond: number;
  gflops: number;
  /** What the job would reach: users/s times the workers it would run this backend in. */
  expectedUsersPerSecond: number;
  error?: string;
}

/**
 * Times every backend on the same sample block (after a warm-up that compiles it) and returns the
 * one the job would run fastest: a single-threaded backend runs in each of `workers` workers, a
 * threaded one (gpujs-async) in one, so each measured rate is scaled by its worker count.
 */
export async function chooseKernel(itemFactors: Float32Array, numItems: number, d: number, sampleUsers = 16, k = 50, workers = 1): Promise<{ best: KernelName; trials: KernelTrial[] }> {
  const rng = new Rng(3);
  const users = Float32Array.from({ length: sampleUsers * d }, () => rng.normal());
  const exclude = Array.from({ length: sampleUsers }, () => undefined);
  const trials: KernelTrial[] = [];
  for (const name of KERNELS) {
    try {
      const kernel = await createKernel(name, itemFactors, numItems, d);
      await kernel.topK(users, sampleUsers, k, exclude);
      const t0 = performance.now();
      await kernel.topK(users, sampleUsers, k, exclude);
      const s = (performance.now() - t0) / 1000;
      await kernel.close();
      const usersPerSecond = Math.round(sampleUsers / s);
      trials.push({ kernel: name, usersPerSecond, gflops: Number(((2 * sampleUsers * numItems * d) / s / 1e9).toFixed(2)), expectedUsersPerSecond: usersPerSecond * workersFor(name, workers) });
    } catch (e) {
      trials.push({ kernel: name, usersPerSecond: 0, gflops: 0, expectedUsersPerSecond: 0, error: (e as Error).message });
    }
  }
  const best = [...trials].sort((a, b) => b.expectedUsersPerSecond - a.expectedUsersPerSecond)[0];
  const described = (t: KernelTrial): string => (t.error ? `${t.kernel} failed (${t.error})` : `${t.kernel} ${t.usersPerSecond} users/s (${t.gflops} GFLOP/s) × ${counted(workersFor(t.kernel, workers), 'worker')}`);
  note(`kernel backends (${sampleUsers} users × ${numItems} items × ${d} dims): ${trials.map(described).join(', ')}; using ${best.kernel}`);
  return { best: best.kernel, trials };
}
