import { encodeCatalog } from '../../data/catalog.js';
import { historyOf, userTotals } from '../../data/history.js';
import { buildUserItems } from '../../data/interactions.js';
import { loadDataset } from '../../data/loaders/index.js';
import { readPromotions } from '../../data/promotions.js';
import { ensureSynthetic, parseSyntheticSpec } from '../../data/resolve.js';
import { configFor } from '../../data/synthetic/config.js';
import { campaignCatalogue, promotionResponse } from '../../data/synthetic/promotion-response.js';
import { buildWorld } from '../../data/synthetic/world.js';
import { favouriteCategories } from '../../promotions/context.js';
import type { SimShopper } from '../../promotions/simulate.js';
import { SimWorld } from '../../promotions/simulate.js';
import { VitrineError } from '../../protocol/errors.js';
import { DEFAULT_SEGMENTS, trainSegments } from '../../train/segments.js';
import { note } from '../../util/progress.js';

/**
 * The synthetic world a promotion simulation runs in: its shoppers as a server would see them
 * (segments fitted on the shop's events the way a build fits them, each shopper's own favourite
 * categories from their history), its offers (the shop's promotions.csv, or `--promotions`), and
 * its hidden response model.
 */
export async function simulationWorld(data: string, seed: number, promotionsFile?: string): Promise<SimWorld> {
  const spec = parseSyntheticSpec(data, seed);
  if (!spec)
    throw new VitrineError(
      'invalid_argument',
      `--data: "${data}" is not synthetic[:tiny|small|medium|large]; simulation needs the synthetic world's response model (judge a policy on real logs with vitrine promotions evaluate)`,
    );
  const dir = await ensureSynthetic(spec);
  const world = buildWorld(configFor(spec.size, { seed: spec.seed }));
  const ds = await loadDataset(dir);
  const all = Int32Array.from({ length: ds.events.length }, (_, e) => e);
  const ui = buildUserItems(ds.events, all, ds.numUsers, ds.numItems);
  const totals = userTotals(ds.events, all, ds.numUsers);
  const histories = Array.from({ length: ds.numUsers }, (_, u) => historyOf(ui, totals, u));
  let end = -Infinity;
  for (let e = 0; e < ds.events.length; e++) end = Math.max(end, ds.events.timestamp[e]);
  const catalog = encodeCatalog(ds.itemInfo);
  const segments = trainSegments(histories, catalog, end, { ...DEFAULT_SEGMENTS, seed: seed + 4 });
  note(`segments: k=${segments.k} fitted on ${ds.numUsers} shoppers' events (as a build fits them)`);
  const shoppers: SimShopper[] = [];
  world.users.forEach((u, index) => {
    const d = ds.users.indexOf(u.id);
    const segment = d >= 0 ? segments.assignment[d] : -1;
    shoppers.push({
      id: u.id,
      index,
      segment,
      segmentLabel: segment >= 0 ? segments.labels[segment] : 'new',
      categories: d >= 0 ? favouriteCategories(histories[d], catalog) : [],
      weight: u.activity,
    });
  });
  const catalogue = promotionsFile ? (await readPromotions(promotionsFile)).promotions : campaignCatalogue(world);
  return new SimWorld(shoppers, catalogue, promotionResponse(world));
}
