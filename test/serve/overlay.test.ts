import { describe, expect, it } from 'vitest';
import { EventOverlay } from '../../src/serve/overlay.js';

describe('streamed events', () => {
  it('keeps at most maxUsers users, forgetting the least recently active first', () => {
    const overlay = new EventOverlay({ maxPerUser: 3, maxUsers: 3 });
    const event = (item: string, ts: number) => ({ item, type: 'view', ts });
    overlay.add('a', event('i1', 1));
    overlay.add('b', event('i2', 2));
    overlay.add('c', event('i3', 3));
    overlay.add('a', event('i4', 4)); // a is now the most recently active
    overlay.add('d', event('i5', 5)); // over the cap: b, the least recently active, goes
    expect([overlay.users, overlay.evicted]).toEqual([3, 1]);
    expect(overlay.get('b')).toBeUndefined();
    expect(overlay.get('a')?.map((e) => e.item)).toEqual(['i1', 'i4']);
    for (let t = 0; t < 5; t++) overlay.add('c', event(`x${t}`, 10 + t));
    expect(overlay.get('c')?.map((e) => e.item)).toEqual(['x2', 'x3', 'x4']);
    overlay.add('e', event('i6', 20)); // a went quiet before d and c
    expect(overlay.get('a')).toBeUndefined();
    expect(overlay.evicted).toBe(2);
  });
});
