/**
 * Requests as the server receives them once validated (validate.ts turns a decoded frame into one of
 * these): every call typed, every default applied. Workers, the client and the tests share them.
 */

export const CALLS = ['recommend', 'similar', 'boughtTogether', 'score', 'profile', 'event', 'promotion'] as const;
export type CallName = (typeof CALLS)[number];

export const EVENT_TYPES = ['view', 'click', 'cart', 'purchase', 'rate', 'dislike', 'return'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/**
 * Negative feedback: not an interaction to learn from or predict, and the item is never recommended
 * to that shopper again (a return keeps the purchase in their history, but not on their lists).
 */
export const NEGATIVE_EVENT_TYPES: readonly EventType[] = ['dislike', 'return'];
export const isNegativeType = (type: string): boolean => (NEGATIVE_EVENT_TYPES as readonly string[]).includes(type);
/** Outcomes of a `promotion` decision, which name the decision instead of an item. */
export const PROMOTION_EVENT_TYPES = ['promotion_view', 'promotion_redeem'] as const;
export type PromotionEventType = (typeof PROMOTION_EVENT_TYPES)[number];

export type RequestId = string | number;

/** How `recommend` orders its items: the two-stage pipeline (default), embeddings alone, or popularity. */
export const RANKINGS = ['ranker', 'embeddings', 'popularity'] as const;
export type Ranking = (typeof RANKINGS)[number];

export interface Limits {
  maxK: number;
  maxCandidates: number;
  maxHistory: number;
  maxScoreItems: number;
  maxBasket: number;
  /** How far ahead of the server's wall clock an event or history time may be, seconds. */
  maxFutureSeconds: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxK: 200,
  maxCandidates: 2000,
  maxHistory: 500,
  maxScoreItems: 1000,
  maxBasket: 50,
  maxFutureSeconds: 300,
};

export interface HistoryEntry {
  item: string;
  type?: string;
  /** Unix seconds; without it, entries count as one second apart in list order, the last at the request time. */
  ts?: number;
}

export interface Filters {
  categories?: string[];
  priceMin?: number;
  priceMax?: number;
  exclude?: string[];
  /** Drop items the user already interacted with (default true). */
  excludeSeen: boolean;
  /** Only the shopper's own items: a "buy it again" list, ranked by the repeat features (default false). */
  onlySeen?: boolean;
  /** Drop items marked unavailable (default true). */
  availableOnly: boolean;
}

/** What a request without filters gets: nothing the shopper already saw, nothing unavailable. */
export const DEFAULT_FILTERS: Readonly<Filters> = { excludeSeen: true, availableOnly: true };

/** An item not in the bundle, described by attributes so it can be placed (cold start). */
export interface ItemDescription {
  id: string;
  category?: string;
  brand?: string;
  price?: number;
  attributes?: string[];
}

export interface RecommendCall {
  call: 'recommend';
  user?: string;
  history?: HistoryEntry[];
  k: number;
  filters: Filters;
  diversity: number;
  explain: boolean;
  candidates?: number;
  ranking: Ranking;
}

export interface SimilarCall {
  call: 'similar';
  item: string | ItemDescription;
  k: number;
  filters: Filters;
}

export interface BoughtTogetherCall {
  call: 'boughtTogether';
  items: string[];
  k: number;
  filters: Filters;
}

export interface ScoreCall {
  call: 'score';
  user?: string;
  history?: HistoryEntry[];
  items: string[];
  candidates?: number;
}

export interface ProfileCall {
  call: 'profile';
  user?: string;
  history?: HistoryEntry[];
}

/** An interaction with an item, kept in the shopper's streamed history. */
export interface EventCall {
  call: 'event';
  user: string;
  item: string;
  type: EventType;
  ts?: number;
  price?: number;
  quantity?: number;
}

/** A shopper saw (`promotion_view`) or used (`promotion_redeem`) what a `promotion` decision showed. */
export interface PromotionEventCall {
  call: 'event';
  user: string;
  type: PromotionEventType;
  decision: string;
  ts?: number;
  /** promotion_redeem: the order's value before the discount, when known. */
  price?: number;
}

export interface BasketLine {
  item: string;
  /** Unit price; the catalogue's when not given. */
  price?: number;
  quantity: number;
}

export interface PromotionCall {
  call: 'promotion';
  user?: string;
  history?: HistoryEntry[];
  basket?: BasketLine[];
  /** Offers to return at most (the chosen one first). */
  k: number;
}

export type Call =
  | RecommendCall
  | SimilarCall
  | BoughtTogetherCall
  | ScoreCall
  | ProfileCall
  | EventCall
  | PromotionEventCall
  | PromotionCall;

/**
 * The calls a worker answers (events are the state store's, on the main thread). For `promotion`
 * the worker works out the shopper's context (segment, categories, basket value); the main thread
 * then decides with the bandit's shared counts.
 */
export type ModelCall = Exclude<Call, EventCall | PromotionEventCall>;

export const isPromotionEvent = (c: Call): c is PromotionEventCall =>
  c.call === 'event' && (PROMOTION_EVENT_TYPES as readonly string[]).includes(c.type);

export interface Request {
  /** null: an HTTP call that gave none (the URL names the call, and the reply is the response). */
  id: RequestId | null;
  call: Call;
}

/** An event received after the bundle was built, as the state store keeps it per user. */
export interface StreamedEvent {
  item: string;
  type: string;
  ts: number;
  price?: number;
  quantity?: number;
}
