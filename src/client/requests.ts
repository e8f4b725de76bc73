import type { EventType, HistoryEntry, ItemDescription, PromotionEventType, Ranking } from '../protocol/calls.js';

/** Filters as a client writes them (the server fills in the defaults). */
export interface FilterFields {
  category?: string | string[];
  priceMin?: number;
  priceMax?: number;
  exclude?: string[];
  excludeSeen?: boolean;
  /** Only the shopper's own items (buy it again). */
  onlySeen?: boolean;
  availableOnly?: boolean;
}

type History = (string | HistoryEntry)[];

/** What each call takes, as a client sends it: the wire fields, defaults left to the server. */
export interface Requests {
  recommend: {
    user?: string;
    history?: History;
    k?: number;
    filters?: FilterFields;
    diversity?: number;
    explain?: boolean;
    candidates?: number;
    ranking?: Ranking;
  };
  similar: { item: string | ItemDescription; k?: number; filters?: FilterFields };
  boughtTogether: { items: string[]; k?: number; filters?: FilterFields };
  score: { user?: string; history?: History; items: string[]; candidates?: number };
  profile: { user?: string; history?: History };
  event:
    | { user: string; item: string; type: EventType; ts?: number; price?: number; quantity?: number }
    | { user: string; type: PromotionEventType; decision: string; ts?: number; price?: number };
  promotion: {
    user?: string;
    history?: History;
    basket?: (string | { item: string; price?: number; quantity?: number })[];
    k?: number;
  };
}
