import type { BundleData } from '../../src/bundle/model.js';
import { historyOf } from '../../src/data/history.js';
import { retrieve, type RetrievalConfig } from '../../src/index/retrieve.js';
import { instantiate } from '../../src/rank/model.js';
import { attributeLists, ITEMS_PER_TOKEN } from '../../src/model/attribute-lists.js';
import { ItemAccumulator } from '../../src/util/item-accumulator.js';
import { median } from '../median.js';
import type { Table } from './table.js';

/** One split of the candidates and what it cost, µs a shopper (medians over rounds). */
interface Split {
  name: string;
  sizes: string;
  usPerUser: number;
  rounds: number[];
}

type Sizes = Pick<
  RetrievalConfig,
  'candidates' | 'knnCandidates' | 'followCandidates' | 'chainCandidates' | 'attributeCandidates'
>;
const SPLITS: { name: string; cfg: Sizes }[] = [
  {
    name: 'HNSW alone (the bench bundle)',
    cfg: { candidates: 200, knnCandidates: 0, followCandidates: 0, chainCandidates: 0, attributeCandidates: 0 },
  },
  {
    name: '+ item-kNN and followers',
    cfg: { candidates: 200, knnCandidates: 25, followCandidates: 25, chainCandidates: 0, attributeCandidates: 0 },
  },
  {
    name: '+ the chain (train default without attributes)',
    cfg: { candidates: 200, knnCandidates: 25, followCandidates: 25, chainCandidates: 50, attributeCandidates: 0 },
  },
  {
    name: "attributes in 50 of HNSW's places (Beauty's choice)",
    cfg: { candidates: 150, knnCandidates: 25, followCandidates: 25, chainCandidates: 50, attributeCandidates: 50 },
  },
];

/**
 * What each candidate source costs: `retrieve` for the same shoppers on the bench bundle (its
 * HNSW, the item-kNN and follower graphs every bundle carries, its catalogue's attributes), one split after another
 * within each round so that the machine's drift falls on all of them alike.
 */
export async function retrievalSuite(table: Table, bundle: BundleData, users: number): Promise<Split[]> {
  const model = await instantiate(bundle);
  // The bench bundle gives the attribute source no places, so its model made no lists: made here as a
  // bundle that does would make them.
  const graphs = {
    ...model.graphs,
    attributes: attributeLists(model.catalog, bundle.popularity.count, ITEMS_PER_TOKEN),
  };
  const h = bundle.history;
  const shoppers = Array.from({ length: Math.min(users, bundle.userIds.length) }, (_, u) => u).filter(
    (u) => h.ui.indptr[u + 1] > h.ui.indptr[u],
  );
  const histories = shoppers.map((u) => historyOf(h.ui, h.totals, u));
  const exclude = new Uint8Array(bundle.items.length);
  const acc = new ItemAccumulator(1);
  const d = bundle.als.factors;
  const pass = (cfg: RetrievalConfig): number => {
    const t = performance.now();
    for (let k = 0; k < shoppers.length; k++) {
      const hist = histories[k];
      for (const i of hist.items) exclude[i] = 1;
      const v = bundle.als.userFactors.subarray(shoppers[k] * d, (shoppers[k] + 1) * d);
      retrieve(model.hnsw, graphs, v, hist, exclude, cfg, acc);
      for (const i of hist.items) exclude[i] = 0;
    }
    return ((performance.now() - t) * 1000) / shoppers.length;
  };
  const configs = SPLITS.map((s) => ({ ...bundle.retrieval, ...s.cfg }));
  for (const cfg of configs) pass(cfg); // unmeasured: the JIT's warm-up
  const rounds = configs.map(() => [] as number[]);
  for (let r = 0; r < 5; r++) configs.forEach((cfg, s) => rounds[s].push(pass(cfg)));
  await model.ranker.release();
  const out = SPLITS.map((s, j) => ({
    name: s.name,
    sizes: [
      s.cfg.candidates,
      s.cfg.knnCandidates,
      s.cfg.followCandidates,
      s.cfg.chainCandidates,
      s.cfg.attributeCandidates,
    ].join(' + '),
    usPerUser: Math.round(median(rounds[j]) * 10) / 10,
    rounds: rounds[j].map((x) => Math.round(x * 10) / 10),
  }));
  table(
    `candidate retrieval per shopper (${shoppers.length} shoppers, bench bundle; µs, median of 5 rounds)`,
    ['sources', 'HNSW + item-kNN + followers + chain + attributes', 'µs a shopper', 'rounds'],
    out.map((s) => [s.name, s.sizes, s.usPerUser, s.rounds.join(' / ')]),
  );
  return out;
}
