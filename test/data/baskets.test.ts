import { describe, expect, it } from 'vitest';
import { recentBaskets, type UserHistory } from '../../src/data/history.js';

function history(lastTime: number[]): UserHistory {
  return {
    items: Int32Array.from(lastTime, (_, j) => 100 + j),
    counts: new Float32Array(lastTime.length).fill(1),
    lastTime: Float64Array.from(lastTime),
    events: lastTime.length,
    spend: 0,
    lastEventTime: Math.max(...lastTime),
  };
}

describe('recent baskets', () => {
  // Items 101-103 were bought together at t=30 (the last order), 104 at t=20, 100 at 10, 105 at 5.
  const h = history([10, 30, 30, 30, 20, 5]);

  it('takes whole baskets, most recent first, until enough items are in', () => {
    const two = recentBaskets(h, 2);
    expect(Array.from(two.items).sort()).toEqual([101, 102, 103]);
    expect(Array.from(two.basket)).toEqual([0, 0, 0]);
    const four = recentBaskets(h, 4);
    expect(Array.from(four.items.subarray(3))).toEqual([104]);
    expect(Array.from(four.basket)).toEqual([0, 0, 0, 1]);
    expect(recentBaskets(h, 5).items.length).toBe(5);
  });

  it('never takes more than maxItems, even inside one basket', () => {
    expect(recentBaskets(h, 1, true, 2).items.length).toBe(2);
    expect(recentBaskets(history([]), 5).items.length).toBe(0);
  });

  it('makes every item a basket of its own when told not to group by time (train --baskets off)', () => {
    const one = recentBaskets(h, 2, false);
    expect(one.items.length).toBe(2);
    expect(Array.from(one.basket)).toEqual([0, 1]);
    // Ties keep history order, the later entry first.
    expect(Array.from(one.items)).toEqual([103, 102]);
  });
});
