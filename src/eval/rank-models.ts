import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { itemsOf, type UserItems } from '../data/interactions.js';
import { historyOf, type UserTotals } from '../data/history.js';
import type { BundleData } from '../bundle/model.js';
import { recommend } from '../rank/recommend.js';
import type { RecModel } from '../rank/model.js';
import { evaluateRanking, type RankingMetrics, type Recommender } from '../metrics/ranking.js';
import { note, Progress, type StageTimer } from '../util/progress.js';

export interface ModelReport extends RankingMetrics {
  seconds: number;
  /** Synthetic data only: share of the top 10 that are among the user's truly preferred items. */
  'truth@10'?: number;
}

/** What one evaluation run shares between the models it ranks. */
export interface EvalRun {
  ds: Dataset;
  train: UserItems;
  test: UserItems;
  truth: Map<number, Set<number>> | undefined;
  timer: StageTimer;
  /** Filled in by rankModel, in the order the models ran. */
  models: Record<string, ModelReport>;
  /** The protocol variant where repeats count: nothing is excluded, every test item is a target. */
  repeats?: boolean;
}

/** The bundle's own recommender's row in the report. */
export const TWO_STAGE = 'two-stage: retrieval -> ranker';

export type AnyRecommender = Recommender | ((u: number, k: number, ex: Uint8Array) => Promise<Int32Array>);

/** Ranks every test user's catalogue with `rec` and records its metrics; `deep`: also the recall at that depth (a retriever's candidate list). */
export async function rankModel(ctx: EvalRun, name: string, rec: AnyRecommender, deep?: number): Promise<void> {
  const { ds, train, test, truth, repeats } = ctx;
  await ctx.timer.run(`evaluate ${name}`, async () => {
    const t0 = performance.now();
    // Async recommenders are resolved user by user up front, then scored by the shared metric code.
    const lists = new Map<number, Int32Array>();
    const exclude = new Uint8Array(ds.numItems);
    const progress = new Progress(`evaluate ${name}`, test.numUsers, 'users');
    for (let u = 0; u < test.numUsers; u++) {
      progress.tick();
      if (itemsOf(test, u).length === 0) continue;
      const own = repeats ? [] : itemsOf(train, u);
      for (const i of own) exclude[i] = 1;
      lists.set(u, await rec(u, Math.max(50, deep ?? 0), exclude));
      for (const i of own) exclude[i] = 0;
    }
    progress.finish();
    const metrics: ModelReport = {
      ...evaluateRanking((u) => lists.get(u) ?? new Int32Array(0), train, test, undefined, deep, repeats),
      seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    };
    if (truth && !repeats) metrics['truth@10'] = truthAgreement(truth, lists, train);
    ctx.models[name] = metrics;
    note(
      `  ${name}: NDCG@10 ${metrics['ndcg@10'].toFixed(4)} Recall@10 ${metrics['recall@10'].toFixed(4)} Recall@50 ${metrics['recall@50'].toFixed(4)}`,
    );
  });
}

/** truth.jsonl from the synthetic generator, as item indices per user index; undefined for other data. */
export function readTruth(ds: Dataset): Map<number, Set<number>> | undefined {
  const path = join(ds.source.path, 'truth.jsonl');
  if (ds.source.format !== 'generic' || !existsSync(path)) return undefined;
  const out = new Map<number, Set<number>>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const t = JSON.parse(line) as { user_id: string; items: string[] };
    const u = ds.users.indexOf(t.user_id);
    if (u >= 0) out.set(u, new Set(t.items.map((id) => ds.items.indexOf(id)).filter((i) => i >= 0)));
  }
  return out;
}

/** Mean over users of |top10 ∩ truly preferred items not yet in train| / min(10, that set's size). */
function truthAgreement(truth: Map<number, Set<number>>, lists: Map<number, Int32Array>, train: UserItems): number {
  let sum = 0;
  let n = 0;
  for (const [u, list] of lists) {
    const pref = truth.get(u);
    if (!pref) continue;
    const own = new Set(itemsOf(train, u));
    const open = [...pref].filter((i) => !own.has(i));
    if (open.length === 0) continue;
    const set = new Set(open);
    let hit = 0;
    for (let r = 0; r < Math.min(10, list.length); r++) if (set.has(list[r])) hit++;
    sum += hit / Math.min(10, open.length);
    n++;
  }
  return n > 0 ? Number((sum / n).toFixed(4)) : 0;
}

/** The two-stage recommender as serving runs it, for the shoppers of `histories` (the bundle's train side). */
export function twoStageRecommender(
  model: RecModel,
  histories: { ui: UserItems; totals: UserTotals },
  now: number,
): AnyRecommender {
  const data = model.data;
  return async (u, k, ex) => {
    const history = historyOf(histories.ui, histories.totals, u);
    const r = await recommend(model, {
      history,
      vector: storedVector(data, u),
      attrs: data.users[u],
      now,
      k,
      exclude: ex,
    });
    return r.items;
  };
}

/** A shopper's stored vector, or undefined for one with no history at training time. */
export function storedVector(data: BundleData, u: number): Float32Array | undefined {
  const d = data.als.factors;
  const v = data.als.userFactors.subarray(u * d, (u + 1) * d);
  return v.some((x) => x !== 0) ? v : undefined;
}
