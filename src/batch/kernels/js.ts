import { writeTop, type ScoreKernel, type TopKBlock } from './kernel.js';

/** Plain TypeScript: the reference backend (a register-blocked loop, four items at a time). */
export class JsKernel implements ScoreKernel {
  readonly name = 'js' as const;
  private readonly row: Float32Array;
  private readonly mask: Uint8Array;

  constructor(
    private readonly itemFactors: Float32Array,
    private readonly numItems: number,
    private readonly d: number,
  ) {
    this.row = new Float32Array(numItems);
    this.mask = new Uint8Array(numItems);
  }

  async topK(
    users: Float32Array,
    count: number,
    k: number,
    exclude: readonly (ArrayLike<number> | undefined)[],
  ): Promise<TopKBlock> {
    const { d, numItems, itemFactors: F, row, mask } = this;
    const items = new Int32Array(count * k);
    const scores = new Float32Array(count * k);
    for (let u = 0; u < count; u++) {
      const uo = u * d;
      let i = 0;
      for (; i + 3 < numItems; i += 4) {
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        const o0 = i * d;
        for (let c = 0; c < d; c++) {
          const x = users[uo + c];
          s0 += x * F[o0 + c];
          s1 += x * F[o0 + d + c];
          s2 += x * F[o0 + 2 * d + c];
          s3 += x * F[o0 + 3 * d + c];
        }
        row[i] = s0;
        row[i + 1] = s1;
        row[i + 2] = s2;
        row[i + 3] = s3;
      }
      for (; i < numItems; i++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += users[uo + c] * F[i * d + c];
        row[i] = s;
      }
      writeTop(row, k, exclude[u], mask, items, scores, u * k);
    }
    return { items, scores };
  }

  async close(): Promise<void> {}
}
