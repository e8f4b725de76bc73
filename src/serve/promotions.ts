import { randomBytes } from 'node:crypto';
import { netRevenue, type PromotionCatalogue, type PromotionSpec, readPromotions } from '../data/promotions.js';
import { armStats, conversionDelta, decisionDelta, NONE, REDEMPTIONS, segmentCounter } from '../promotions/arms.js';
import { type Arm, Posterior } from '../promotions/bandit.js';
import { armsFor, decide, decideFixed, type PromotionContext, segmentKeyOf } from '../promotions/decide.js';
import type { PromotionPolicy } from '../experiments/config.js';
import type { PromotionEventCall, StreamedEvent } from '../protocol/calls.js';
import { VitrineError } from '../protocol/errors.js';
import type {
  PromotionContextResult,
  PromotionEventResult,
  PromotionOffer,
  PromotionResult,
} from '../protocol/replies.js';
import type { StateStore } from '../state/store.js';
import { Rng } from '../util/rng.js';
import type { ServerConfig } from './config/index.js';
import type { Logger } from './log.js';
import type { ServerMetrics } from './metrics.js';

/** A decision as the store keeps it for its shopper, until the attribution window closes. */
interface DecisionRecord {
  arm: string;
  /** The counter segment it learns in. */
  segment: string;
  /** Wall-clock Unix seconds. */
  at: number;
  propensity: number;
  shown: string[];
  viewed?: boolean;
}

const KIND = 'promotion';

type PromotionSettings = Pick<ServerConfig, 'promotions' | 'attributionHours' | 'promotionExploration'>;

export interface PromotionDeskDeps {
  store: StateStore;
  metrics: ServerMetrics;
  log: Logger;
}

/**
 * The main thread's half of `promotion`: the catalogue, the decision (Thompson sampling over the
 * counts every replica shares through the store), the decision records that outcomes are credited
 * to, and the outcomes themselves (promotion_view, promotion_redeem, and purchases within the
 * attribution window). Decision records and counters are the store's, so any replica can credit a
 * decision another one made, and all of them learn from it at once.
 */
export class PromotionDesk {
  private catalogue: PromotionCatalogue | undefined;
  private byId = new Map<string, PromotionSpec>();
  private readonly rng = new Rng(randomBytes(4).readUInt32LE(0));

  private readonly o: PromotionDeskDeps & { file?: string; attributionHours: number; exploration: number };

  constructor(c: PromotionSettings, deps: PromotionDeskDeps) {
    this.o = { ...deps, file: c.promotions, attributionHours: c.attributionHours, exploration: c.promotionExploration };
  }

  /** Reads the catalogue, without using it yet (a reload commits it with everything else); a bad file throws. */
  async read(): Promise<PromotionCatalogue | undefined> {
    return this.o.file ? readPromotions(this.o.file) : undefined;
  }

  /** Serves `next` from now on (undefined: no catalogue file, nothing changes). */
  commit(next: PromotionCatalogue | undefined): number | undefined {
    if (!next) return undefined;
    this.catalogue = next;
    this.byId = new Map(next.promotions.map((p) => [p.id, p]));
    this.o.metrics.promotionCatalogue.set(next.promotions.length);
    return next.promotions.length;
  }

  private get windowSeconds(): number {
    return this.o.attributionHours * 3600;
  }

  /** A decision by Thompson sampling, or the one an experiment variant's policy imposes. */
  async decide(
    user: string | undefined,
    c: PromotionContextResult,
    k: number,
    now: number,
    policy: PromotionPolicy = 'thompson',
  ): Promise<PromotionResult> {
    if (!this.catalogue)
      throw new VitrineError(
        'unavailable',
        'no promotion catalogue is loaded: start the server with --promotions FILE (config promotions)',
      );
    const ctx: PromotionContext = {
      segment: c.segment.id,
      segmentLabel: c.segment.label,
      categories: c.categories,
      basket: c.basket,
      now,
    };
    const key = segmentKeyOf(ctx.segment);
    const [counter, redemptions] = await Promise.all([
      this.o.store.readCounter(segmentCounter(key)),
      this.o.store.readCounter(REDEMPTIONS),
    ]);
    const arms = armsFor(this.catalogue.promotions, ctx, counter, redemptions);
    const d =
      policy === 'thompson'
        ? decide(arms, ctx, { exploration: this.o.exploration }, this.rng, k)
        : decideFixed(arms, ctx, policy === 'none' ? NONE : policy.fixed);
    const id = `d${randomBytes(9).toString('base64url')}`;
    // An anonymous shopper's outcome cannot be traced back: their decisions are made, not learnt from.
    if (user !== undefined) {
      const wall = Date.now() / 1000;
      const record: DecisionRecord = {
        arm: d.arm,
        segment: key,
        at: wall,
        propensity: d.propensity,
        shown: d.shown.map((p) => p.id),
      };
      await this.o.store.putRecord(user, KIND, id, {
        value: record as unknown as Record<string, unknown>,
        expiresAt: wall + this.windowSeconds,
      });
      await this.o.store.increment(segmentCounter(key), decisionDelta(d.arm));
    }
    this.o.metrics.promotionDecisions.inc({ promotion: d.arm, explored: String(d.explored) });
    return {
      promotions: d.shown.map(offer),
      decision: id,
      segment: { id: c.segment.id >= 0 ? c.segment.id : null, label: c.segment.label },
      reason: d.reason,
      explored: d.explored,
      propensity: Math.round(d.propensity * 1e4) / 1e4,
      attributionHours: this.o.attributionHours,
    };
  }

  /**
   * What the bandit believes in each segment (`segments`: counter key and label): every offer of the
   * catalogue and showing nothing, with the counts every replica shares. Undefined without a catalogue.
   */
  async posteriors(
    segments: readonly { key: string; label: string }[],
  ): Promise<{ segment: string; label: string; arms: ArmPosterior[] }[] | undefined> {
    const catalogue = this.catalogue;
    if (!catalogue) return undefined;
    return Promise.all(
      segments.map(async ({ key, label }) => {
        const counter = await this.o.store.readCounter(segmentCounter(key));
        const arms: Arm[] = [
          { id: NONE, promotion: null, stats: armStats(counter, NONE) },
          ...catalogue.promotions.map((p) => ({ id: p.id, promotion: p, stats: armStats(counter, p.id) })),
        ];
        const posterior = new Posterior(arms);
        return {
          segment: key,
          label,
          arms: arms.map((a, j): ArmPosterior => {
            const r = posterior.rate(j);
            return {
              id: a.id,
              label: a.promotion?.label ?? 'no offer',
              decisions: a.stats.decisions,
              conversions: a.stats.conversions,
              rate: r.mean,
              lo: r.lo,
              hi: r.hi,
              value: posterior.mean(j),
            };
          }),
        };
      }),
    );
  }

  /** promotion_view and promotion_redeem: matched to the decision they name among the shopper's. */
  async onPromotionEvent(e: PromotionEventCall): Promise<PromotionEventResult> {
    const held = (await this.o.store.records(e.user, KIND))[e.decision];
    this.o.metrics.promotionEvents.inc({ type: e.type, matched: String(held !== undefined) });
    if (!held) return { accepted: true, credited: false };
    const record = held.value as unknown as DecisionRecord;
    if (e.type === 'promotion_view') {
      if (!record.viewed)
        await this.o.store.putRecord(e.user, KIND, e.decision, { ...held, value: { ...held.value, viewed: true } });
      return { accepted: true, credited: false };
    }
    const used = record.shown[0];
    if (used !== undefined) await this.o.store.increment(REDEMPTIONS, { [used]: 1 });
    const credited = await this.credit(e.user, e.decision, record, e.price, 'redeem');
    return { accepted: true, credited };
  }

  /**
   * A purchase credits the shopper's latest decision still within its window, once (a claim in the
   * store, so two replicas seeing two purchases credit it once). Its value is what the shop kept:
   * the order less the shown offer's discount and cost, taken as used.
   */
  async onPurchase(user: string, e: StreamedEvent): Promise<void> {
    if (!this.catalogue) return;
    const held = await this.o.store.records(user, KIND);
    let latest: [string, DecisionRecord] | undefined;
    for (const [id, r] of Object.entries(held)) {
      const d = r.value as unknown as DecisionRecord;
      if (!latest || d.at > latest[1].at) latest = [id, d];
    }
    if (!latest) return;
    const basket = e.price !== undefined ? e.price * (e.quantity ?? 1) : undefined;
    await this.credit(user, latest[0], latest[1], basket, 'purchase');
  }

  private async credit(
    user: string,
    id: string,
    d: DecisionRecord,
    basket: number | undefined,
    by: 'purchase' | 'redeem',
  ): Promise<boolean> {
    if (!(await this.o.store.claimRecord(user, KIND, id))) return false;
    const promotion = d.arm === NONE ? null : this.byId.get(d.arm);
    // An offer since dropped from the catalogue: the order counts, its value is not known.
    const order =
      basket !== undefined && promotion !== undefined ? { basket, net: netRevenue(promotion, basket) } : undefined;
    await this.o.store.increment(segmentCounter(d.segment), conversionDelta(d.arm, order));
    this.o.metrics.promotionConversions.inc({ promotion: d.arm, by });
    return true;
  }
}

/** One arm of one segment as the dashboard draws it. */
export interface ArmPosterior {
  id: string;
  label: string;
  decisions: number;
  conversions: number;
  /** The conversion rate's posterior mean and 95% credible interval. */
  rate: number;
  lo: number;
  hi: number;
  /** Expected net revenue per decision. */
  value: number;
}

function offer(p: PromotionSpec): PromotionOffer {
  return {
    id: p.id,
    kind: p.kind,
    label: p.label,
    value: p.value,
    ...(p.minBasket > 0 && { minBasket: p.minBasket }),
    ...(p.code !== undefined && { code: p.code }),
    ...(p.categories.length > 0 && { categories: p.categories }),
    ...(Number.isFinite(p.end) && { ends: new Date(p.end * 1000).toISOString() }),
  };
}

/** Whether an offer is in `catalogue` (the one a reload will serve), for experiments' fixed offers. */
export const offerIn =
  (catalogue: PromotionCatalogue | undefined) =>
  (id: string): boolean =>
    catalogue?.promotions.some((p) => p.id === id) ?? false;
