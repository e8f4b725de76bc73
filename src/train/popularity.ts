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
  return { count, trending, firstSeen, lastSeen, ...repeats(events, idx, numItems), halfLifeDays, referenceTime: ref };
}

/**
 * How often shoppers come back to each item, and after how long: consumables are bought again, a
 * film is watched once. Events at one timestamp (several lines of one order) are one visit.
 */
function repeats(
  events: EventColumns,
  idx: Int32Array,
  numItems: number,
): Pick<Popularity, 'repeatShare' | 'repeatDays'> {
  const { user, item, timestamp } = events;
  const order = Int32Array.from(idx).sort(
    (a, b) => user[a] - user[b] || item[a] - item[b] || timestamp[a] - timestamp[b],
  );
  const shoppers = new Float64Array(numItems);
  const repeaters = new Float64Array(numItems);
  const gapDays = new Float64Array(numItems);
  let start = 0;
  while (start < order.length) {
    const first = order[start];
    let end = start + 1;
    let visits = 1;
    while (end < order.length && user[order[end]] === user[first] && item[order[end]] === item[first]) {
      if (timestamp[order[end]] > timestamp[order[end - 1]]) visits++;
      end++;
    }
    const i = item[first];
    shoppers[i]++;
    if (visits > 1) {
      repeaters[i]++;
      gapDays[i] += (timestamp[order[end - 1]] - timestamp[first]) / 86400 / (visits - 1);
    }
    start = end;
  }
  return {
    repeatShare: Float32Array.from(shoppers, (n, i) => (n > 0 ? repeaters[i] / n : 0)),
    repeatDays: Float32Array.from(repeaters, (r, i) => (r > 0 ? gapDays[i] / r : NaN)),
  };
}
