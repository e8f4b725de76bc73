import type { PromotionPlan } from '../../batch/promotion-plan.js';
import { readPromotions } from '../../data/promotions.js';
import { REDEMPTIONS, segmentCounter } from '../../promotions/arms.js';
import { segmentKeyOf } from '../../promotions/decide.js';
import { defaultConfig } from '../../serve/config/index.js';
import { createStore } from '../../state/open-store.js';
import { note, warn } from '../../util/progress.js';

/**
 * The plan batch-score decides promotions with: the catalogue and, from a shared store, the counts
 * the serving replicas learnt (per segment, and redemptions against budgets).
 */
export async function promotionPlan(
  file: string,
  store: string | undefined,
  segments: number,
  exploration: number,
  seed: number,
): Promise<PromotionPlan> {
  const { promotions: catalogue } = await readPromotions(file);
  const counters: PromotionPlan['counters'] = {};
  let redemptions: PromotionPlan['redemptions'] = {};
  if (store) {
    const s = createStore({ ...defaultConfig(''), store });
    try {
      await s.open(0);
      const keys = [...Array.from({ length: segments }, (_, j) => segmentKeyOf(j)), segmentKeyOf(-1)];
      for (const key of keys) counters[key] = await s.readCounter(segmentCounter(key));
      redemptions = await s.readCounter(REDEMPTIONS);
    } finally {
      await s.close();
    }
    const decisions = Object.values(counters).reduce(
      (n, c) => n + Object.entries(c).reduce((m, [k, v]) => (k.endsWith('|n') ? m + v : m), 0),
      0,
    );
    note(`promotions: ${catalogue.length} offers; the counts of ${decisions} decisions read from ${store}`);
  } else
    warn(
      `promotions: ${catalogue.length} offers, no counts (give --store redis://... to choose with what the servers learnt): offers are chosen on their terms, with much exploration`,
    );
  return { catalogue, counters, redemptions, exploration, now: Date.now() / 1000, seed };
}
