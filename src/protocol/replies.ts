/**
 * What each call answers, typed once: the server builds these, the client and the tests read them.
 */
import type { CallName, RequestId } from './calls.js';
import type { ErrorBody } from './errors.js';

/**
 * Which stage produced a returned item; `history`: one of the shopper's own items (buy it again);
 * `chain`: what shoppers went on to after the latest items' followers.
 */
export type Stage =
  | 'hnsw'
  | 'item-knn'
  | 'follows'
  | 'chain'
  | 'attributes'
  | 'history'
  | 'trending'
  | 'rules'
  | 'similar';

export interface ResultItem {
  id: string;
  /** Ranker probability (recommend), cosine (similar), rule confidence or kNN sum (boughtTogether); null for fill-ins. */
  score: number | null;
  stage: Stage;
  explanation?: string;
}

export interface UserSummary {
  known: boolean;
  coldStart: boolean;
  historyLength: number;
  /** Ids in the request history or the streamed events that the catalogue does not know (ignored). */
  unknownItems?: string[];
}

export interface RecommendResult {
  items: ResultItem[];
  user: UserSummary;
}

export interface SimilarResult {
  items: ResultItem[];
  item: { known: boolean; placedByAttributes?: boolean };
}

export interface BoughtTogetherResult {
  items: ResultItem[];
  basket: { known: number; unknown: number };
}

export interface ScoredItem {
  id: string;
  score: number | null;
  known: boolean;
  stage?: 'ranker';
  explanation: string;
}

export interface ScoreResult {
  items: ScoredItem[];
  user: { known: boolean; coldStart: boolean };
}

export interface ProfileResult {
  user: { known: boolean; coldStart: boolean; historyLength: number; events: number };
  segment: { id: number | null; label: string };
  affinities: { kind: 'category' | 'attribute'; top: { name: string; share: number }[] };
  rfm: { recencyDays: number; events: number; spend: number };
  attributes?: { ageBand?: string; gender?: string; region?: string };
}

export interface EventResult {
  accepted: true;
  /** Events the store now holds for this user since the bundle was built. */
  streamedEvents: number;
}

/** An offer as `promotion` returns it. */
export interface PromotionOffer {
  id: string;
  kind: string;
  label: string;
  /** Percentage off (percent_off, coupon) or amount off (amount_off_over). */
  value: number;
  minBasket?: number;
  code?: string;
  categories?: string[];
  /** ISO 8601, when the offer has an end date. */
  ends?: string;
}

export interface PromotionResult {
  /** What to show now, the chosen offer first; empty: show nothing. */
  promotions: PromotionOffer[];
  /** Quote it in the promotion_view and promotion_redeem events that follow. */
  decision: string;
  segment: { id: number | null; label: string };
  reason: string;
  /** The exploration floor chose it rather than the posterior. */
  explored: boolean;
  /** The chance the policy had of this choice (what off-policy evaluation weighs it by). */
  propensity: number;
  /** A purchase this many hours after the decision is credited to it. */
  attributionHours: number;
}

/** `event` with type promotion_view or promotion_redeem. */
export interface PromotionEventResult {
  accepted: true;
  /** A redemption credited the decision with an order (false: credited already, or no such decision). */
  credited: boolean;
}

export interface Results {
  recommend: RecommendResult;
  similar: SimilarResult;
  boughtTogether: BoughtTogetherResult;
  score: ScoreResult;
  profile: ProfileResult;
  event: EventResult | PromotionEventResult;
  promotion: PromotionResult;
}

export type ResultOf<C extends CallName> = Results[C];
export type AnyResult = Results[CallName];

/** The worker's half of `promotion`: the shopper's context, which the main thread decides on. */
export interface PromotionContextResult {
  segment: { id: number; label: string };
  /** The basket's categories, or the shopper's favourite ones when there is no basket. */
  categories: string[];
  basket?: number;
  /** Basket lines with no price given and none in the catalogue (left out of the value). */
  unpricedItems?: string[];
}

/** What a worker answers: every call's result, but `promotion`'s context in place of its decision. */
export type WorkerResult = Results[Exclude<CallName, 'event' | 'promotion'>] | PromotionContextResult;

/** Every reply names the bundle version (once one is loaded) and the server's own time in ms. */
export interface SuccessReply<R = AnyResult> {
  id: RequestId | null;
  result: R;
  bundle: string;
  serverMs: number;
  /** Present when the answer could not use everything it should (the state store was unreachable): why. */
  degraded?: string;
  /** The shopper's variant in each running experiment they are in, by experiment name. */
  experiments?: Record<string, string>;
}

export interface ErrorReply {
  id: RequestId | null;
  error: ErrorBody;
  bundle?: string;
  serverMs?: number;
}

export type Reply<R = AnyResult> = SuccessReply<R> | ErrorReply;
