import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { RANKER_INPUT, RANKER_OUTPUT } from './onnx-export.js';

export type ExecutionProviderChoice = 'auto' | 'cpu' | 'cuda';

/**
 * Whether the CUDA execution provider can load here. The binding always lists CUDA as compiled in;
 * what decides is whether its provider libraries were installed next to it (onnxruntime-node's
 * install script downloads them on GPU machines).
 */
export function cudaInstalled(): boolean {
  try {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('onnxruntime-node/package.json'));
    const dir = join(root, 'bin', 'napi-v6', process.platform, process.arch);
    return ort.listSupportedBackends().some((b) => b.name === 'cuda') && existsSync(join(dir, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

interface PendingScore {
  features: Float32Array;
  rows: number;
  resolve: (p: Float32Array) => void;
  reject: (e: unknown) => void;
}

/**
 * The ONNX ranker under onnxruntime-node. CUDA is requested when asked for (or on `auto`) and
 * present; otherwise CPU. `provider` records what was actually chosen, for the logs.
 *
 * Calls made in the same synchronous run (a serving worker starting a batch of requests) are
 * scored as one session run: per run, onnxruntime-node costs an event-loop hop and a fixed
 * overhead, so 1,600 rows (8 requests × 200) in one run take 29 µs per 200 rows instead of 40
 * (native-bench's ranker suite).
 */
export class OnnxRanker {
  private pending: PendingScore[] = [];
  /** Session runs and the score calls they answered (calls / runs: how much coalescing happens). */
  readonly counts = { runs: 0, calls: 0 };

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly width: number,
    readonly provider: string,
  ) {}

  static async create(model: string | Uint8Array, width: number, choice: ExecutionProviderChoice = 'cpu', threads = 1): Promise<OnnxRanker> {
    const hasCuda = cudaInstalled();
    if (choice === 'cuda' && !hasCuda) throw new Error('the CUDA execution provider was requested but its libraries are not installed (on a GPU machine, allow onnxruntime-node\'s install script to fetch them)');
    const options = (providers: string[]): ort.InferenceSession.SessionOptions => ({ executionProviders: providers, intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const open = (o: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> => (typeof model === 'string' ? ort.InferenceSession.create(model, o) : ort.InferenceSession.create(model, o));
    if (choice !== 'cpu' && hasCuda) {
      try {
        return new OnnxRanker(await open(options(['cuda', 'cpu'])), width, 'cuda');
      } catch (e) {
        if (choice === 'cuda') throw e;
        // auto: CUDA libraries present but unusable (no device, driver mismatch): serve on CPU.
        return new OnnxRanker(await open(options(['cpu'])), width, `cpu (cuda failed: ${(e as Error).message.split('\n')[0]})`);
      }
    }
    return new OnnxRanker(await open(options(['cpu'])), width, 'cpu');
  }

  /** P(positive) for each of `rows` feature rows. */
  score(features: Float32Array, rows: number): Promise<Float32Array> {
    if (rows === 0) return Promise.resolve(new Float32Array(0));
    if (features.length < rows * this.width) return Promise.reject(new RangeError(`${rows} rows of ${this.width} features need ${rows * this.width} values; got ${features.length}`));
    return new Promise((resolve, reject) => {
      // The first call of a synchronous run schedules the flush; the rest of the run joins it.
      if (this.pending.push({ features: features.subarray(0, rows * this.width), rows, resolve, reject }) === 1) queueMicrotask(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const calls = this.pending;
    this.pending = [];
    this.counts.runs++;
    this.counts.calls += calls.length;
    const total = calls.reduce((s, c) => s + c.rows, 0);
    let input = calls[0].features;
    if (calls.length > 1) {
      input = new Float32Array(total * this.width);
      let o = 0;
      for (const c of calls) {
        input.set(c.features, o);
        o += c.features.length;
      }
    }
    try {
      const out = await this.session.run({ [RANKER_INPUT]: new ort.Tensor('float32', input, [total, this.width]) });
      const probs = out[RANKER_OUTPUT].data as Float32Array;
      let o = 0;
      for (const c of calls) {
        c.resolve(probs.subarray(o, o + c.rows));
        o += c.rows;
      }
    } catch (e) {
      for (const c of calls) c.reject(e);
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
