/**
 * onnxruntime-node, opened in one place: every ONNX graph Vitrine runs (the ranker in serving and
 * batch jobs, the batch top-K kernel, the matrix inverse of the EASE fit) gets its session here, with
 * one set of session options and one execution-provider choice.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { VitrineError } from '../protocol/errors.js';

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
    return (
      ort.listSupportedBackends().some((b) => b.name === 'cuda') &&
      existsSync(join(dir, 'libonnxruntime_providers_cuda.so'))
    );
  } catch {
    return false;
  }
}

export interface OnnxSessionOptions {
  /** `auto`: CUDA when its libraries are installed and a device answers, else CPU. Default `cpu`. */
  provider?: ExecutionProviderChoice;
  /** Threads one run may use (intra-op). Default 1: serving and batch workers parallelise by thread. */
  threads?: number;
}

export type OnnxFeeds = Record<string, ort.Tensor>;
export type OnnxOutputs = ort.InferenceSession.OnnxValueMapType;

/** An open ONNX session and the execution provider it actually runs on (for the logs). */
export class OnnxSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: string,
  ) {}

  /** Opens `model` (a path or the graph's bytes); CUDA falls back to CPU on `auto` and says why in `provider`. */
  static async open(model: string | Uint8Array, o: OnnxSessionOptions = {}): Promise<OnnxSession> {
    const choice = o.provider ?? 'cpu';
    const threads = o.threads ?? 1;
    const hasCuda = choice !== 'cpu' && cudaInstalled();
    if (choice === 'cuda' && !hasCuda) {
      throw new VitrineError(
        'invalid_argument',
        "the CUDA execution provider was requested but its libraries are not installed (on a GPU machine, allow onnxruntime-node's install script to fetch them)",
      );
    }
    const options = (providers: string[]): ort.InferenceSession.SessionOptions => ({
      executionProviders: providers,
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    const create = (so: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> =>
      typeof model === 'string' ? ort.InferenceSession.create(model, so) : ort.InferenceSession.create(model, so);
    if (hasCuda) {
      try {
        return new OnnxSession(await create(options(['cuda', 'cpu'])), 'cuda');
      } catch (e) {
        if (choice === 'cuda') throw e;
        // auto: CUDA libraries present but unusable (no device, driver mismatch): run on CPU.
        return new OnnxSession(
          await create(options(['cpu'])),
          `cpu (cuda failed: ${(e as Error).message.split('\n')[0]})`,
        );
      }
    }
    return new OnnxSession(await create(options(['cpu'])), 'cpu');
  }

  run(feeds: OnnxFeeds): Promise<OnnxOutputs> {
    return this.session.run(feeds);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export function float32Tensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function int64Tensor(values: readonly number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(values, (v) => BigInt(v)),
    dims,
  );
}
