import { float32Tensor, OnnxSession, type ExecutionProviderChoice } from '../backends/onnx.js';
import { withoutSubnormals } from '../backends/subnormals.js';

/** The ranker graph's input (raw feature rows, N × width) and output (N × 1 probabilities). */
export const RANKER_INPUT = 'features';
export const RANKER_OUTPUT = 'probability';

interface PendingScore {
  features: Float32Array;
  rows: number;
  resolve: (p: Float32Array) => void;
  reject: (e: unknown) => void;
}

/**
 * The ONNX ranker. Its session comes from backends/onnx (CUDA when asked for, or on `auto`, and
 * present; otherwise CPU); `provider` records what was actually chosen, for the logs.
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
    private readonly session: OnnxSession,
    readonly width: number,
  ) {}

  /** The execution provider the session runs on. */
  get provider(): string {
    return this.session.provider;
  }

  /**
   * `model`: the network's ONNX bytes (a bundle's ranker or propensity file). Subnormal weights are
   * set to zero first: a bundle built before the export did so may hold some (see subnormals.ts).
   */
  static async create(
    model: Uint8Array,
    width: number,
    provider: ExecutionProviderChoice = 'cpu',
    threads = 1,
  ): Promise<OnnxRanker> {
    return new OnnxRanker(await OnnxSession.open(withoutSubnormals(model).model, { provider, threads }), width);
  }

  /** P(positive) for each of `rows` feature rows. */
  score(features: Float32Array, rows: number): Promise<Float32Array> {
    if (rows === 0) return Promise.resolve(new Float32Array(0));
    if (features.length < rows * this.width)
      return Promise.reject(
        new RangeError(
          `${rows} rows of ${this.width} features need ${rows * this.width} values; got ${features.length}`,
        ),
      );
    return new Promise((resolve, reject) => {
      // The first call of a synchronous run schedules the flush; the rest of the run joins it.
      if (this.pending.push({ features: features.subarray(0, rows * this.width), rows, resolve, reject }) === 1)
        queueMicrotask(() => void this.flush());
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
      const out = await this.session.run({ [RANKER_INPUT]: float32Tensor(input, [total, this.width]) });
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
