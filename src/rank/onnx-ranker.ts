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

/**
 * The ONNX ranker under onnxruntime-node. CUDA is requested when asked for (or on `auto`) and
 * present; otherwise CPU. `provider` records what was actually chosen, for the logs.
 */
export class OnnxRanker {
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
  async score(features: Float32Array, rows: number): Promise<Float32Array> {
    if (rows === 0) return new Float32Array(0);
    const input = new ort.Tensor('float32', features.subarray(0, rows * this.width), [rows, this.width]);
    const out = await this.session.run({ [RANKER_INPUT]: input });
    return out[RANKER_OUTPUT].data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
