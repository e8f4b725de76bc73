import { itemsOf, type UserItems, usersWithItems } from '../data/interactions.js';
import type { Dataset } from '../data/dataset.js';
import { eventTypeCode, type UserAttributes } from '../data/types.js';
import type { FeatureBuilder } from '../features/features.js';
import { historyOf, type UserTotals } from '../data/history.js';
import type { HnswIndex } from '../index/hnsw.js';
import { type ItemGraphs, retrieve, type RetrievalConfig, SOURCE_NAMES } from '../index/retrieve.js';
import { Rng } from '../util/rng.js';
import { ItemAccumulator } from '../util/item-accumulator.js';
import { Progress } from '../util/progress.js';

/** The first stage as training and evaluation see it: the same retrieval and features as serving. */
export interface FirstStage {
  hnsw: HnswIndex;
  graphs: ItemGraphs;
  features: FeatureBuilder;
  factors: number;
  /** Per-user vectors (ALS fold-ins of the histories below). */
  userFactors: Float32Array;
  histories: { ui: UserItems; totals: UserTotals };
  users: readonly (UserAttributes | undefined)[];
  retrieval: RetrievalConfig;
}

export interface LabelledRows {
  X: Float32Array;
  y: Float32Array;
  group: Int32Array;
  /** The candidate item of each row. */
  item: Int32Array;
  width: number;
  /** Mean share of each user's counted targets found among the candidates (retrieval recall). */
  candidateRecall: number;
  /** The same share per source: what each source added to the list (sources after the first see only new items). */
  candidateRecallBySource: Record<string, number>;
  usersWithTargets: number;
}

export interface RowOptions {
  /** Rows from at most this many users (a seeded sample). */
  maxUsers?: number;
  /**
   * Also the shopper's own items: retrieved as serving does with `excludeSeen` false, and positive
   * when bought again, so the ranker learns its repeat features. Off: the history is excluded and
   * repeats are not targets (the standard protocol).
   */
  repeats?: boolean;
}

/**
 * Ranker rows from held-out interactions: for each user with targets (held-out items not already in
 * the history, unless `repeats`), retrieve candidates exactly as serving does; candidates that are
 * targets are positives, and `negatives` per positive are sampled from the other candidates (hard
 * negatives).
 */
export function labelledRows(
  stage: FirstStage,
  targets: UserItems,
  now: number,
  negatives: number,
  seed: number,
  label: string,
  opts: RowOptions = {},
): LabelledRows {
  const maxUsers = opts.maxUsers ?? Infinity;
  const rng = new Rng(seed);
  const n = targets.numItems;
  const width = stage.features.width;
  const exclude = new Uint8Array(n);
  const scratch = new ItemAccumulator(1);
  const chunks: Float32Array[] = [];
  const ys: number[] = [];
  const groups: number[] = [];
  const rowItems: number[] = [];
  let recallSum = 0;
  const bySource = new Float64Array(SOURCE_NAMES.length);
  let users = 0;
  const eligible = usersWithItems(targets, maxUsers, rng);
  const progress = new Progress(label, eligible.length, 'users');
  for (const u of eligible) {
    const h = historyOf(stage.histories.ui, stage.histories.totals, u);
    // With repeats, own items are retrieved and labelled in the same list as new ones, and their
    // negatives sampled alike: sampling them apart (all own rows, new ones 1 in 20) skewed their odds
    // against new items and cost 18% of NDCG@10 where repeats count (measured on the synthetic shop).
    if (!opts.repeats) for (const i of h.items) exclude[i] = 1;
    const pos = new Set<number>();
    for (const i of itemsOf(targets, u)) if (!exclude[i]) pos.add(i);
    if (pos.size > 0) {
      const vector =
        h.items.length > 0 ? stage.userFactors.subarray(u * stage.factors, (u + 1) * stage.factors) : undefined;
      const cand = retrieve(stage.hnsw, stage.graphs, vector, h, exclude, stage.retrieval, scratch);
      const rows = new Float32Array(cand.items.length * width);
      if (vector) stage.features.build({ history: h, vector, attrs: stage.users[u], now }, cand.items, rows);
      const hits: number[] = [];
      const misses: number[] = [];
      cand.items.forEach((i, r) => (pos.has(i) ? hits : misses).push(r));
      recallSum += hits.length / pos.size;
      for (const r of hits) bySource[cand.source[r]] += 1 / pos.size;
      users++;
      if (vector && hits.length > 0) {
        rng.shuffle(misses);
        for (const r of [...hits, ...misses.slice(0, negatives * hits.length)]) {
          chunks.push(rows.subarray(r * width, (r + 1) * width));
          ys.push(pos.has(cand.items[r]) ? 1 : 0);
          groups.push(u);
          rowItems.push(cand.items[r]);
        }
      }
    }
    for (const i of h.items) exclude[i] = 0;
    progress.tick();
  }
  progress.finish();
  const X = new Float32Array(ys.length * width);
  chunks.forEach((c, j) => X.set(c, j * width));
  return {
    X,
    y: Float32Array.from(ys),
    group: Int32Array.from(groups),
    item: Int32Array.from(rowItems),
    width,
    candidateRecall: users > 0 ? recallSum / users : NaN,
    candidateRecallBySource: Object.fromEntries(SOURCE_NAMES.map((s, k) => [s, users > 0 ? bySource[k] / users : NaN])),
    usersWithTargets: users,
  };
}

/**
 * Each row's label by purchases instead: 1 where the row's shopper bought its item among `events`
 * (the period the rows were drawn from), with the number of (shopper, item) pairs bought there.
 */
export function purchaseLabels(
  rows: LabelledRows,
  ds: Dataset,
  events: Int32Array,
): { y: Float32Array; pairs: number } {
  const purchase = eventTypeCode('purchase');
  const bought = new Set<number>();
  const e = ds.events;
  for (const j of events) if (e.type[j] === purchase) bought.add(e.user[j] * ds.numItems + e.item[j]);
  const y = Float32Array.from(rows.group, (u, r) => (bought.has(u * ds.numItems + rows.item[r]) ? 1 : 0));
  return { y, pairs: bought.size };
}
