import { note } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { GpuJsKernel, JsKernel, KERNELS, OnnxTopKKernel, type KernelName, type ScoreKernel } from './kernels.js';

export async function createKernel(name: KernelName, itemFactors: Float32Array, numItems: number, d: number): Promise<ScoreKernel> {
  if (name === 'onnx') return OnnxTopKKernel.create(itemFactors, numItems, d, 1);
  if (name === 'gpujs') return GpuJsKernel.create(itemFactors, numItems, d, 'webasm');
  return new JsKernel(itemFactors, numItems, d);
}

export interface KernelTrial {
  kernel: KernelName;
  usersPerSecond: number;
  gflops: number;
  error?: string;
}

/**
 * Times every backend on the same sample block (after a warm-up that compiles it) and returns the
 * fastest: the backends are single-threaded here because parallelism comes from the worker pool.
 */
export async function chooseKernel(itemFactors: Float32Array, numItems: number, d: number, sampleUsers = 16, k = 50): Promise<{ best: KernelName; trials: KernelTrial[] }> {
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
      trials.push({ kernel: name, usersPerSecond: Math.round(sampleUsers / s), gflops: Number(((2 * sampleUsers * numItems * d) / s / 1e9).toFixed(2)) });
    } catch (e) {
      trials.push({ kernel: name, usersPerSecond: 0, gflops: 0, error: (e as Error).message });
    }
  }
  const best = [...trials].sort((a, b) => b.usersPerSecond - a.usersPerSecond)[0];
  note(`kernel backends (${sampleUsers} users × ${numItems} items × ${d} dims): ${trials.map((t) => (t.error ? `${t.kernel} failed (${t.error})` : `${t.kernel} ${t.usersPerSecond} users/s (${t.gflops} GFLOP/s)`)).join(', ')}; using ${best.kernel}`);
  return { best: best.kernel, trials };
}
