import { EVENT_TYPES, isNegativeType } from '../protocol/calls.js';

/**
 * How much one event of each type counts towards a (shopper, item) pair's interaction count: the
 * count ALS turns into confidence, the fold-in of a live history, and the own_count feature all
 * read the same weighted sum, in training, batch and serving. Negative feedback counts nothing.
 */
export type EventWeights = Record<string, number>;

export const UNIFORM_WEIGHTS: Readonly<EventWeights> = Object.fromEntries(
  EVENT_TYPES.filter((t) => !isNegativeType(t)).map((t) => [t, 1]),
);

/** Per event type code, for the columnar events (0 for negative feedback). */
export function weightsByCode(w: Readonly<EventWeights>): Float32Array {
  return Float32Array.from(EVENT_TYPES, (t) => w[t] ?? 0);
}

/** `view=1,cart=3,purchase=5`: the types named get those weights, the others 1; throws saying what is wrong. */
export function parseEventWeights(spec: string): EventWeights {
  const out: EventWeights = { ...UNIFORM_WEIGHTS };
  for (const part of spec.split(',')) {
    const [type, value, extra] = part.split('=').map((x) => x.trim());
    const w = Number(value);
    if (!Object.hasOwn(UNIFORM_WEIGHTS, type))
      throw new Error(`"${type}" is not a positive event type (one of ${Object.keys(UNIFORM_WEIGHTS).join(', ')})`);
    if (extra !== undefined || value === undefined || value === '' || !(w > 0 && w <= 100))
      throw new Error(`${type} needs a weight above 0 and at most 100, as ${type}=2`);
    out[type] = w;
  }
  return out;
}
