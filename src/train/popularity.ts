import type { EventColumns } from '../data/types.js';
import type { Popularity } from '../model/popularity.js';

/** Popularity and time-decayed trending over the given events, as of the last event's time. */
export function trainPopularity(
  events: EventColumns,
  idx: Int32Array,
  numItems: number,
  halfLifeDays: number,
): Popularity {
  let ref = -Infinity;
  for (const e of idx) if (events.timestamp[e] > ref) ref = events.timestamp[e];
  const count = new Float32Array(numItems);
  const trending = new Float32Array(numItems);
  const firstSeen = new Float64Array(numItems).fill(NaN);
  const lastSeen = new Float64Array(numItems).fill(NaN);
  const decay = Math.LN2 / (halfLifeDays * 86400);
  for (const e of idx) {
    const i = events.item[e];
    const ts = events.timestamp[e];
    count[i]++;
    trending[i] += Math.exp(-decay * (ref - ts));
    if (!(firstSeen[i] <= ts)) firstSeen[i] = ts;
    if (!(lastSeen[i] >= ts)) lastSeen[i] = ts;
  }
  return { count, trending, firstSeen, lastSeen, halfLifeDays, referenceTime: ref };
}
