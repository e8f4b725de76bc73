import { DEFAULT_LIMITS } from '../../src/protocol/calls.js';
import { parseRequest } from '../../src/protocol/validate.js';
import type { BundleData } from '../../src/bundle/model.js';
import { rankContext } from '../../src/rank/context.js';
import { instantiate } from '../../src/rank/model.js';
import { runCall } from '../../src/serve/calls/index.js';
import type { WorkMarks } from '../../src/serve/calls/task.js';
import { Rng } from '../../src/util/rng.js';
import type { Table } from './table.js';

/** Medians of one pacing's requests, ms. */
interface Paced {
  round: number;
  gapMs: number;
  requests: number;
  retrieve: number;
  features: number;
  ranker: number;
  total: number;
  totalP99: number;
}

const GAPS = [0, 2, 5];

/**
 * What a request costs when it comes after an idle spell: `recommend` in one thread on the bench
 * bundle, nothing else running, back to back and then with 2 and 5 ms of sleep between requests (an
 * open loop at half load leaves a worker idle about that long). The same work takes longer on a
 * core that has been idle (caches and the host's own scheduling of an idle virtual CPU): this is
 * the cost an unbatched request pays at low load that the closed loop never shows.
 */
export async function idleSuite(table: Table, bundle: BundleData, userIds: string[]): Promise<Paced[]> {
  // Made as a serving worker makes it: lone searches then take the worker's own path.
  const ctx = rankContext(await instantiate(bundle, { batchedScans: true }));
  const now = bundle.manifest.data.referenceTime;
  const rng = new Rng(9);
  const one = async (): Promise<number[]> => {
    const { call } = parseRequest(
      { id: 1, call: 'recommend', user: userIds[rng.int(userIds.length)], k: 10, candidates: 200 },
      DEFAULT_LIMITS,
    );
    if (call.call !== 'recommend') throw new Error('the idle suite asks recommend only');
    const start = performance.now();
    const marks: WorkMarks = { start };
    await runCall(ctx, { call, now }, marks);
    const end = performance.now();
    return [marks.retrieved! - start, marks.featured! - marks.retrieved!, marks.ranked! - marks.featured!, end - start];
  };
  const pace = async (round: number, gapMs: number): Promise<Paced> => {
    const rows: number[][] = [];
    const n = gapMs === 0 ? 2000 : 600;
    for (let i = 0; i < n; i++) {
      rows.push(await one());
      await new Promise((r) => (gapMs === 0 ? setImmediate(r) : setTimeout(r, gapMs)));
    }
    const at = (j: number, q: number): number => {
      // Shoppers with no history skip retrieval and ranking: their marks are missing.
      const v = rows
        .map((r) => r[j])
        .filter(Number.isFinite)
        .sort((a, b) => a - b);
      return Math.round(v[Math.min(v.length - 1, Math.floor(q * v.length))] * 1000) / 1000;
    };
    return {
      round,
      gapMs,
      requests: n,
      retrieve: at(0, 0.5),
      features: at(1, 0.5),
      ranker: at(2, 0.5),
      total: at(3, 0.5),
      totalP99: at(3, 0.99),
    };
  };
  // Unmeasured first: the JIT's warm-up would otherwise land on the first pacing.
  for (let i = 0; i < 500; i++) await one();
  const out: Paced[] = [];
  for (const round of [1, 2]) for (const gap of GAPS) out.push(await pace(round, gap));
  table(
    'recommend after an idle spell (one thread, bench bundle; ms, medians)',
    ['round', 'between requests', 'requests', 'retrieve', 'features', 'ranker', 'total', 'total p99'],
    out.map((p) => [
      p.round,
      p.gapMs === 0 ? 'none' : `${p.gapMs} ms asleep`,
      p.requests,
      p.retrieve,
      p.features,
      p.ranker,
      p.total,
      p.totalP99,
    ]),
  );
  return out;
}
