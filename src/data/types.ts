/** The records Vitrine reads. Ids are strings outside; see ids.ts for the dense integers used inside. */

import { EVENT_TYPES, isNegativeType } from '../protocol/calls.js';

const EVENT_CODE = new Map<string, number>(EVENT_TYPES.map((t, i) => [t, i]));

/** The numeric code stored in columnar event arrays, or -1 for a name that is not an event type. */
export function eventTypeCode(name: string): number {
  return EVENT_CODE.get(name) ?? -1;
}

/** Per event type code: 1 for negative feedback (NEGATIVE_EVENT_TYPES). */
export const NEGATIVE_CODE = Uint8Array.from(EVENT_TYPES, (t) => (isNegativeType(t) ? 1 : 0));

export interface Item {
  id: string;
  category?: string;
  brand?: string;
  price?: number;
  /** Free-form tags such as `genre:Comedy` or `style:3`; features treat them as a bag. */
  attributes: string[];
  text?: string;
  available: boolean;
}

export interface UserAttributes {
  id: string;
  ageBand?: string;
  gender?: string;
  region?: string;
  age?: number;
  /** Anything else the source had (occupation, zip code, ...). */
  attributes: Record<string, string>;
}

/**
 * Interaction events (user, item, type, timestamp and the optional value, quantity, price, context), held in
 * columns rather than one object per event: one million events take ~30 MB instead of ~300 MB as objects.
 */
export interface EventColumns {
  length: number;
  user: Int32Array;
  item: Int32Array;
  type: Uint8Array;
  /** Unix time in seconds (fractions allowed). */
  timestamp: Float64Array;
  /** NaN where the source gave no value. */
  value: Float32Array;
  quantity: Float32Array;
  price: Float32Array;
  /** Per-event context; undefined entries where there was none. */
  context: (Record<string, string> | undefined)[];
}
