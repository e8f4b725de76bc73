import {
  CALLS,
  type EventCall,
  isNegativeType,
  isPromotionEvent,
  type PromotionEventCall,
  type RequestId,
} from '../protocol/calls.js';
import { errorBody, VitrineError, type WireErrorCode } from '../protocol/errors.js';
import type { AnyResult, ErrorReply, PromotionContextResult, Reply } from '../protocol/replies.js';
import { parseRequest } from '../protocol/validate.js';
import { REJECTED_KIND, type StateStore, type UserState } from '../state/store.js';
import type { ServerConfig } from './config/index.js';
import type { Logger, Pseudonymiser } from './log.js';
import type { ServerMetrics } from './metrics.js';
import { elapsed } from './clock.js';
import type { ModelPool, PoolReply, Reservation } from './pool.js';
import { QueueFullError } from './shed.js';
import type { PromotionDesk } from './promotions.js';
import { type Assignment, type ExperimentDesk, variantNames } from './experiments.js';
import { idOf, type Transport } from './transport/codec.js';

/** How long a streamed dislike or return keeps the item off the shopper's lists: for good, in practice. */
const NEVER_AGAIN_SECONDS = 10 * 365 * 86400;

/** The metrics label of a request refused before validation: its call when it names a known one. */
export function callLabelOf(raw: unknown): string {
  const call = raw !== null && typeof raw === 'object' ? (raw as { call?: unknown }).call : undefined;
  return typeof call === 'string' && (CALLS as readonly string[]).includes(call) ? call : 'unknown';
}

export function fail(id: RequestId | null, code: WireErrorCode, message: string, field?: string): ErrorReply {
  return { id, error: field !== undefined ? { code, message, field } : { code, message } };
}

/** What the door said of a request: refused (the reply), or let in, holding a place in the pool's queue. */
export type Preflight = { refused: ErrorReply } | { refused?: undefined; reservation?: Reservation };

export interface DispatchDeps {
  config: ServerConfig;
  metrics: ServerMetrics;
  log: Logger;
  pseudo: Pseudonymiser;
  store: StateStore;
  promotions: PromotionDesk;
  pool: () => ModelPool | undefined;
  experiments: ExperimentDesk;
  /** The pool serving an experiment variant's bundle version, when it is not the main one. */
  variantPool: (version: string) => ModelPool | undefined;
  draining: () => boolean;
  /** Called after an event changed what the store holds (to refresh its gauges). */
  onStored: () => void;
}

/**
 * One path from a decoded request to its reply, whatever the transport: validation, the `event` call
 * to the state store on this thread, every other call to the worker pool with the user's streamed
 * events; each outcome counted and timed.
 */
export class Dispatcher {
  /** Requests accepted and not yet answered (the drain waits for it to reach zero). */
  inFlight = 0;

  constructor(private readonly d: DispatchDeps) {}

  /** Validates and answers one request; never throws (errors become coded replies). */
  async handle(raw: unknown, transport: Transport, callFromPath?: string, reservation?: Reservation): Promise<Reply> {
    const t0 = performance.now();
    const id = idOf(raw);
    const { metrics } = this.d;
    let callName = callFromPath !== undefined ? callLabelOf({ call: callFromPath }) : callLabelOf(raw);
    this.inFlight++;
    metrics.inFlight.set(this.inFlight);
    try {
      if (this.d.draining())
        throw new VitrineError('shutting_down', 'the server is shutting down; reconnect to another replica');
      const req = parseRequest(raw, this.d.config.limits, callFromPath);
      callName = req.call.call;
      const { result, bundle, degraded, pooled, as } = await this.answer(req.call, reservation);
      if (pooled !== undefined) metrics.stages.observe(callName, 'reply', (performance.now() - pooled) / 1000);
      const serverMs = elapsed(t0);
      metrics.requests.inc({ call: callName, transport, outcome: 'ok' });
      metrics.latency.observe({ call: callName }, serverMs / 1000);
      const experiments = variantNames(as);
      return {
        id: req.id,
        result,
        bundle,
        serverMs,
        ...(degraded !== undefined && { degraded }),
        ...(experiments !== undefined && { experiments }),
      };
    } catch (e) {
      const body = errorBody(e);
      if (body.code === 'internal')
        this.d.log.error({ err: e instanceof WorkerFault ? e.detail : e, call: callName }, 'request failed');
      metrics.requests.inc({ call: callName, transport, outcome: body.code });
      return this.stamped({ id, error: body }, t0);
    } finally {
      // A place held for a request that ended before it was queued (invalid, or the server draining).
      if (reservation) reservation.pool.release(reservation);
      this.inFlight--;
      metrics.inFlight.set(this.inFlight);
    }
  }

  private now(): number {
    const pool = this.d.pool();
    return this.d.config.clock === 'bundle' && pool ? pool.manifest.data.referenceTime : Date.now() / 1000;
  }

  private async answer(
    asked: ReturnType<typeof parseRequest>['call'],
    reservation?: Reservation,
  ): Promise<{
    result: AnyResult;
    bundle: string;
    degraded?: string;
    pooled?: number;
    as: readonly Assignment[];
  }> {
    const desk = this.d.experiments;
    const user = 'user' in asked ? asked.user : undefined;
    const now = this.now();
    if (asked.call === 'event') return { ...(await this.event(asked, now)), as: desk.assignments(user) };
    const { state, degraded } =
      user !== undefined ? await this.userState(user) : { state: undefined, degraded: undefined };
    // Settled after the store read: a reload during it may have changed the experiments and retired
    // the pools serving them.
    const as = desk.assignments(user);
    const applied = desk.apply(asked, as);
    const call = applied.call;
    const pool = this.poolFor(applied.bundle);
    let reply;
    try {
      reply = await pool.run(
        { call, streamed: state?.streamed, rejected: state?.rejected, forgotten: state?.forgotten, now },
        reservation,
      );
    } catch (e) {
      throw e instanceof QueueFullError ? this.shed(e) : e;
    }
    const pooled = performance.now();
    this.recordStages(call.call, reply);
    const o = reply.outcome;
    if ('error' in o)
      throw o.internal !== undefined
        ? new WorkerFault(o.internal)
        : new VitrineError(o.error.code, o.error.message, o.error.field);
    let result = o.result as AnyResult;
    if (call.call === 'promotion') {
      const ctx = o.result as PromotionContextResult;
      result = await this.storeWrite(() => this.d.promotions.decide(user, ctx, call.k, now, applied.promotion));
    }
    if (user !== undefined && as.length > 0)
      await this.d.experiments
        .expose(user, call.call, as, shownIn(result))
        .catch((e: unknown) => this.bookkeepingFailed(e, 'recording an experiment exposure'));
    return { result, bundle: reply.version, degraded, pooled, as };
  }

  /** `event`: stored for the shopper, then credited to promotion decisions and experiment variants. */
  private async event(
    call: EventCall | PromotionEventCall,
    now: number,
  ): Promise<{ result: AnyResult; bundle: string }> {
    const pool = this.d.pool();
    if (isPromotionEvent(call))
      return {
        result: await this.storeWrite(() => this.d.promotions.onPromotionEvent(call)),
        bundle: pool?.version ?? '',
      };
    // The store keeps only events after the bundle's data end (what it has not learned from); an
    // older one would be answered `accepted` and then vanish at the next start.
    const dataEnd = pool?.manifest.data.referenceTime;
    if (call.ts !== undefined && dataEnd !== undefined && call.ts < dataEnd) {
      throw new VitrineError(
        'invalid_field',
        `ts: ${call.ts} is before the serving bundle's data end (${new Date(dataEnd * 1000).toISOString()}); events the bundle covers are not streamed`,
        'ts',
      );
    }
    const event = {
      item: call.item,
      type: call.type,
      ts: call.ts ?? now,
      price: call.price,
      quantity: call.quantity,
    };
    const streamedEvents = await this.storeWrite(() => this.d.store.append(call.user, event));
    if (isNegativeType(call.type))
      await this.storeWrite(() =>
        this.d.store.putRecord(call.user, REJECTED_KIND, call.item, {
          value: { type: call.type, ts: event.ts },
          expiresAt: event.ts + NEVER_AGAIN_SECONDS,
        }),
      );
    this.d.onStored();
    // The pseudonym is a keyed hash: not worth computing for a line the level drops.
    if (this.d.log.isLevelEnabled('debug'))
      this.d.log.debug({ user: this.d.pseudo.user(call.user), type: call.type }, 'event');
    // The event is acknowledged once stored; crediting a promotion decision with it is the bandit's
    // bookkeeping, and its failure (counted, logged) does not unsay the acknowledgement.
    if (call.type === 'purchase')
      await this.d.promotions
        .onPurchase(call.user, event)
        .catch((e: unknown) => this.bookkeepingFailed(e, 'crediting a promotion decision with a purchase'));
    if (call.type === 'click' || call.type === 'cart' || call.type === 'purchase')
      await this.d.experiments
        .onOutcome(
          call.user,
          call.type === 'purchase'
            ? { type: 'purchase', value: (call.price ?? 0) * (call.quantity ?? 1) }
            : { type: call.type },
        )
        .catch((e: unknown) => this.bookkeepingFailed(e, 'crediting an experiment variant with an outcome'));
    return { result: { accepted: true, streamedEvents }, bundle: pool?.version ?? '' };
  }

  /** The pool to answer from: the main one, or the one serving the shopper's variant's bundle version. */
  private poolFor(bundle: string | undefined): ModelPool {
    const main = this.d.pool();
    if (!main) throw new VitrineError('not_ready', 'no bundle is loaded yet');
    if (bundle === undefined || bundle === main.version) return main;
    const pool = this.d.variantPool(bundle);
    // Never the main pool in its place: the shopper would be counted under a variant they did not get.
    if (!pool)
      throw new VitrineError('unavailable', `bundle version ${bundle} (an experiment variant's) is not loaded; retry`);
    return pool;
  }

  /**
   * The shopper's state from the store; when the store fails (unreachable, slow), the request is still
   * answered from the bundle alone and says so (`degraded`), rather than failing or hanging.
   */
  private async userState(user: string): Promise<{ state?: UserState; degraded?: string }> {
    try {
      return { state: await this.d.store.userState(user) };
    } catch (e) {
      const code = e instanceof VitrineError ? e.code : 'internal';
      this.d.metrics.storeErrors.inc({ op: 'read', code });
      if (code === 'internal') this.d.log.error({ err: e }, 'reading user state failed');
      return {
        degraded: `answered from the bundle alone: ${e instanceof VitrineError ? e.message : 'the state store failed'}`,
      };
    }
  }

  /** The request's breakdown into /metrics (seconds), from the pool's and the worker's own clocks. */
  private recordStages(call: string, r: PoolReply): void {
    const put = (stage: string, ms: number | undefined): void => {
      if (ms !== undefined && ms >= 0) this.d.metrics.stages.observe(call, stage, ms / 1000);
    };
    put('queue', r.queue);
    put('handoff', r.handoff);
    const w = r.outcome.work;
    // for...in: no arrays allocated per request on this path.
    if (w) for (const stage in w) put(stage, w[stage as keyof typeof w]);
    put('back', r.back);
  }

  /**
   * Experiment and bandit bookkeeping that failed after the request itself succeeded: counted and
   * logged; the reply (an acknowledged event, a recommendation) stands.
   */
  private bookkeepingFailed(e: unknown, what: string): void {
    this.d.metrics.storeErrors.inc({ op: 'write', code: e instanceof VitrineError ? e.code : 'internal' });
    this.d.log.warn({ err: e }, `${what} failed`);
  }

  private shed(e: QueueFullError): VitrineError {
    this.d.metrics.shed.inc({ reason: e.reason });
    return new VitrineError('overloaded', e.message);
  }

  /** A write to the store, its failures counted by code (the caller answers them as they are). */
  private async storeWrite<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (e) {
      this.d.metrics.storeErrors.inc({ op: 'write', code: e instanceof VitrineError ? e.code : 'internal' });
      throw e;
    }
  }

  /**
   * Refuses a request before any work is done for it when the workers cannot take it in time: no
   * validation, no store read, no exception, so that at ten times the rate the server can serve,
   * refusing the excess costs the main thread a few microseconds each. Events are never refused here
   * (they do not wait for a worker).
   */
  preflight(raw: unknown, transport: Transport, callFromPath?: string): Preflight {
    const pool = this.d.pool();
    if (!pool) return {};
    const call = callLabelOf(callFromPath !== undefined ? { call: callFromPath } : raw);
    if (call === 'event' || call === 'unknown') return {};
    // The door of the pool that will serve it: an experiment's variant may have a version of its own.
    const user = raw !== null && typeof raw === 'object' ? (raw as { user?: unknown }).user : undefined;
    const bundle = this.d.experiments.bundleAt(call, user);
    const door = ((bundle !== undefined && this.d.variantPool(bundle)) || pool).reserve();
    if (!('reason' in door)) return { reservation: door };
    this.d.metrics.shed.inc({ reason: door.reason });
    return { refused: this.refused(call, transport, idOf(raw), 'overloaded', door.message) };
  }

  /** A request refused before it reached `handle` (which counts its own): counted, then answered. */
  refused(call: string, transport: Transport, id: RequestId | null, code: WireErrorCode, message: string): ErrorReply {
    this.d.metrics.requests.inc({ call, transport, outcome: code });
    return fail(id, code, message);
  }

  /** Adds the bundle version (the serving one) and the server time to an error reply that lacks them. */
  stamped<R>(reply: Reply<R>, t0: number): Reply<R> {
    if (!('error' in reply) || reply.serverMs !== undefined) return reply;
    const serverMs = elapsed(t0);
    const pool = this.d.pool();
    // A literal, not a spread copy: msgpackr encodes the copy ~3 µs slower (1.27 against 4.47 µs a
    // refusal, `npm run bench -- --suite codec`), and under overload the main thread sends tens of
    // thousands a second.
    const { id, error } = reply;
    return pool ? { id, error, bundle: pool.version, serverMs } : { id, error, serverMs };
  }
}

/** How many items (or offers) a result shows: what an exposure's CTR is counted against. */
function shownIn(result: AnyResult): number {
  const r = result as { items?: unknown; promotions?: unknown };
  if (Array.isArray(r.items)) return r.items.length;
  if (Array.isArray(r.promotions)) return r.promotions.length;
  return 1;
}

/** A request that failed inside a worker: answered `internal`, logged with the worker's stack. */
class WorkerFault extends Error {
  constructor(readonly detail: string) {
    super('a request failed in a worker');
  }
}
