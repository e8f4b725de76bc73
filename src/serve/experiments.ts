import { assign } from '../experiments/assign.js';
import {
  type Experiment,
  type ExperimentCall,
  type ExperimentsFile,
  type PromotionPolicy,
  readExperiments,
  type Variant,
} from '../experiments/config.js';
import {
  counterName,
  type ExposureRecord,
  exposureDelta,
  freshRecord,
  type Outcome,
  outcomeDelta,
  RECORD_KIND,
  recordId,
  withinWindow,
} from '../experiments/ledger.js';
import { type ExperimentReport, experimentReport } from '../experiments/report.js';
import type { Call } from '../protocol/calls.js';
import { VitrineError } from '../protocol/errors.js';
import type { StateStore } from '../state/store.js';
import type { ServerMetrics } from './metrics.js';

/** How stale a shopper's latest exposure time may be before it is rewritten, seconds. */
const LAST_SEEN_RESOLUTION_S = 60;
/** A shopper's exposure record is kept this long after their latest exposure (no window is longer). */
const RECORD_SECONDS = 90 * 86400;

export interface Assignment {
  experiment: Experiment;
  variant: Variant;
}

/** What a shopper's variants change in one call. */
export interface Applied<C extends Call = Call> {
  call: C;
  /** The bundle version to answer from, when a variant names one. */
  bundle?: string;
  promotion?: PromotionPolicy;
}

export interface ExperimentDeskDeps {
  store: StateStore;
  metrics: ServerMetrics;
  /** Why a bundle version cannot be served, or undefined when it can. */
  missingVersion: (version: string) => string | undefined;
  /** The server's limit on `candidates`, which a variant may not exceed either. */
  maxCandidates: number;
}

/**
 * The main thread's experiments: the file (checked, re-read at a reload), each shopper's variants
 * (a hash, the same on every replica), the settings a variant changes, and the exposures and
 * outcomes, kept in the state store so that every replica counts into one report.
 */
export class ExperimentDesk {
  private file: ExperimentsFile = { experiments: [] };
  /** Whether a running experiment serves a variant from a bundle version of its own. */
  private variantBundles = false;
  /** Each shopper's bookkeeping still running here: the next waits, so that no update of their record is lost. */
  private readonly busy = new Map<string, Promise<void>>();

  constructor(
    private readonly path: string | undefined,
    private readonly d: ExperimentDeskDeps,
  ) {}

  /**
   * Reads and checks the file without using it yet (a reload commits it with the pools and the
   * catalogue it needs); a bad one throws, naming the field. `hasPromotion` checks fixed offers
   * against the catalogue that will be served with it.
   */
  read(hasPromotion: (id: string) => boolean): ExperimentsFile | undefined {
    if (!this.path) return undefined;
    try {
      return this.check(readExperiments(this.path), this.path, hasPromotion);
    } catch (e) {
      // Named as the experiments' fault, so that a reload answers it as the admin's input (400).
      throw e instanceof VitrineError ? new VitrineError(e.code, e.message, 'experiments') : e;
    }
  }

  commit(next: ExperimentsFile | undefined): number | undefined {
    if (!next) return undefined;
    this.file = next;
    this.variantBundles = ExperimentDesk.bundlesOf(next).size > 0;
    return next.experiments.length;
  }

  private check(next: ExperimentsFile, path: string, hasPromotion: (id: string) => boolean): ExperimentsFile {
    for (const e of next.experiments)
      for (const v of e.variants) {
        const where = `${path}: experiment "${e.name}", variant "${v.name}"`;
        const s = v.settings;
        const missing = s.bundle !== undefined ? this.d.missingVersion(s.bundle) : undefined;
        if (missing) throw new VitrineError('invalid_argument', `${where}: bundle: ${missing}`);
        if (s.candidates !== undefined && s.candidates > this.d.maxCandidates)
          throw new VitrineError(
            'invalid_argument',
            `${where}: candidates: ${s.candidates} is over the server's limit of ${this.d.maxCandidates} (limits.maxCandidates)`,
          );
        const p = s.promotion;
        if (typeof p === 'object' && !hasPromotion(p.fixed))
          throw new VitrineError(
            'invalid_argument',
            `${where}: promotion: "${p.fixed}" is not in the promotion catalogue (--promotions)`,
          );
      }
    return next;
  }

  /** The bundle versions running experiments serve besides the main one. */
  static bundlesOf(file: ExperimentsFile | undefined): Set<string> {
    const out = new Set<string>();
    for (const e of file?.experiments ?? [])
      if (e.active) for (const v of e.variants) if (v.settings.bundle) out.add(v.settings.bundle);
    return out;
  }

  assignments(user: string | undefined): Assignment[] {
    if (user === undefined || this.file.experiments.length === 0) return [];
    const out: Assignment[] = [];
    for (const experiment of this.file.experiments) {
      const variant = assign(experiment, user);
      if (variant) out.push({ experiment, variant });
    }
    return out;
  }

  /**
   * The bundle version a variant serves `call` from for `user`, at the door (before the request is
   * checked: `user` is what the frame said); undefined for the main version.
   */
  bundleAt(call: string, user: unknown): string | undefined {
    return this.variantBundles && typeof user === 'string' ? bundleOf(call, this.assignments(user)) : undefined;
  }

  /** The call as the shopper's variants would have it (settings on calls the experiment does not cover stay). */
  apply<C extends Call>(call: C, as: readonly Assignment[]): Applied<C> {
    const out: Applied<C> = { call, bundle: bundleOf(call.call, as) };
    for (const { experiment, variant } of as) {
      if (!(experiment.calls as readonly string[]).includes(call.call)) continue;
      const s = variant.settings;
      if (s.promotion !== undefined) out.promotion ??= s.promotion;
      // The same call with some of its fields changed: still a C.
      const c: Call = out.call;
      if (c.call === 'recommend')
        out.call = {
          ...c,
          ...(s.diversity !== undefined && { diversity: s.diversity }),
          ...(s.candidates !== undefined && { candidates: s.candidates }),
          ...(s.ranking !== undefined && { ranking: s.ranking }),
        } as C;
      else if (c.call === 'score' && s.candidates !== undefined) out.call = { ...c, candidates: s.candidates } as C;
    }
    return out;
  }

  /**
   * Counts an exposure (of `shown` items or offers) of each experiment covering `call`. The shopper's
   * record keeps their latest exposure; a claim on it (once, on any replica) decides who is new.
   */
  async expose(user: string, call: ExperimentCall, as: readonly Assignment[], shown: number): Promise<void> {
    const covering = as.filter((a) => (a.experiment.calls as readonly string[]).includes(call));
    if (covering.length === 0) return;
    return this.serial(user, () => this.exposeNow(user, covering, shown));
  }

  private async exposeNow(user: string, covering: readonly Assignment[], shown: number): Promise<void> {
    const store = this.d.store;
    const held = await store.records(user, RECORD_KIND);
    const now = Date.now() / 1000;
    await Promise.all(
      covering.map(async ({ experiment: e, variant: v }) => {
        const id = recordId(e);
        const before = held[id]?.value as unknown as ExposureRecord | undefined;
        const same = before !== undefined && before.variant === v.name;
        // The latest exposure only moves the attribution window: a minute's precision is plenty, and
        // a shopper browsing page after page then costs the store one write a minute, not one a page.
        if (!same || now - before.last >= LAST_SEEN_RESOLUTION_S)
          await store.putRecord(user, RECORD_KIND, id, {
            value: (same ? { ...before, last: now } : freshRecord(v.name, now)) as unknown as Record<string, unknown>,
            expiresAt: now + RECORD_SECONDS,
          });
        const newUser = before === undefined && (await store.claimRecord(user, RECORD_KIND, id));
        await store.increment(counterName(e), exposureDelta(v.name, newUser, shown));
        this.d.metrics.experimentExposures.inc({ experiment: e.name, variant: v.name });
      }),
    );
  }

  /** A click, cart or purchase: credited to every experiment whose exposure of the shopper it follows in the window. */
  async onOutcome(user: string, outcome: Outcome): Promise<void> {
    if (this.file.experiments.length === 0) return;
    return this.serial(user, () => this.creditNow(user, outcome));
  }

  /**
   * Runs `work` once the shopper's earlier bookkeeping on this replica is done: a record is read,
   * changed and written back, and two at once would lose one change (a click, or count a second
   * conversion). Replicas do not wait for each other (docs/experiments.md, limits).
   */
  private serial(user: string, work: () => Promise<void>): Promise<void> {
    const before = this.busy.get(user);
    const mine = (before ? before.then(work, work) : work()).finally(() => {
      if (this.busy.get(user) === mine) this.busy.delete(user);
    });
    this.busy.set(user, mine);
    return mine;
  }

  private async creditNow(user: string, outcome: Outcome): Promise<void> {
    const store = this.d.store;
    const held = await store.records(user, RECORD_KIND);
    const now = Date.now() / 1000;
    await Promise.all(
      this.file.experiments.map(async (e) => {
        // A stopped experiment's report stays as it was when it stopped.
        if (!e.active) return;
        const id = recordId(e);
        const stored = held[id];
        if (!stored) return;
        const r = stored.value as unknown as ExposureRecord;
        if (!withinWindow(r, e, now)) return;
        const { record, delta } = outcomeDelta(r, outcome);
        await store.putRecord(user, RECORD_KIND, id, {
          ...stored,
          value: record as unknown as Record<string, unknown>,
        });
        await store.increment(counterName(e), delta);
        this.d.metrics.experimentOutcomes.inc({ experiment: e.name, variant: r.variant, type: outcome.type });
      }),
    );
  }

  async report(): Promise<ExperimentReport[]> {
    return Promise.all(
      this.file.experiments.map(async (e) => experimentReport(e, await this.d.store.readCounter(counterName(e)))),
    );
  }
}

/** Each assignment's variant by experiment name, for the reply. */
export function variantNames(as: readonly Assignment[]): Record<string, string> | undefined {
  if (as.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const a of as) out[a.experiment.name] = a.variant.name;
  return out;
}

/** The bundle version the first experiment covering `call` that names one serves it from. */
function bundleOf(call: string, as: readonly Assignment[]): string | undefined {
  for (const { experiment, variant } of as)
    if ((experiment.calls as readonly string[]).includes(call) && variant.settings.bundle !== undefined)
      return variant.settings.bundle;
  return undefined;
}
