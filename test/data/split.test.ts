import { describe, expect, it } from 'vitest';
import { DatasetBuilder } from '../../src/data/dataset.js';
import { heldOutCount, negativeFeedback, splitWithValidation, temporalSplit } from '../../src/data/split.js';
import { eventTypeCode } from '../../src/data/types.js';

function events(rows: [string, string, number][]) {
  const b = new DatasetBuilder();
  for (const [u, i, t] of rows) b.addEvent(u, i, 0, t);
  return b.build({ format: 'test', path: '-', files: [] });
}

const ids = (ds: ReturnType<typeof events>, idx: Int32Array): string[] =>
  Array.from(idx, (e) => `${ds.users.idAt(ds.events.user[e])}:${ds.items.idAt(ds.events.item[e])}`);

describe('temporal split (quality protocol)', () => {
  it('holds out the last 20% rounded, at least one, none for a single interaction', () => {
    expect([1, 2, 3, 4, 5, 7, 8, 10, 12, 13].map((n) => heldOutCount(n, 0.2))).toEqual([0, 1, 1, 1, 1, 1, 2, 2, 2, 3]);
  });

  it('sorts each user by time, keeps file order on ties, and leaves single-interaction users in train', () => {
    const ds = events([
      ['a', 'x', 30],
      ['b', 'only', 5],
      ['a', 'y', 10],
      ['a', 'tie1', 20],
      ['a', 'tie2', 20],
      ['a', 'z', 40],
    ]);
    const s = temporalSplit(ds.events);
    expect(ids(ds, s.train)).toEqual(['a:y', 'a:tie1', 'a:tie2', 'a:x', 'b:only']);
    expect(ids(ds, s.test)).toEqual(['a:z']);

    const tieLast = events([
      ['a', 'p', 1],
      ['a', 'q', 2],
      ['a', 'late1', 9],
      ['a', 'late2', 9],
    ]);
    // n = 4 -> one held out; the later of the tied pair in file order is the last interaction.
    expect(ids(tieLast, temporalSplit(tieLast.events).test)).toEqual(['a:late2']);
  });

  it('cuts the validation slice out of train by the same rule', () => {
    const rows: [string, string, number][] = [];
    for (let t = 0; t < 10; t++) rows.push(['u', `i${t}`, t]);
    const ds = events(rows);
    const s = splitWithValidation(ds.events);
    expect(ids(ds, s.test)).toEqual(['u:i8', 'u:i9']);
    expect(ids(ds, s.validation)).toEqual(['u:i6', 'u:i7']);
    expect(ids(ds, s.fit)).toEqual(['u:i0', 'u:i1', 'u:i2', 'u:i3', 'u:i4', 'u:i5']);
  });

  it('rejects a fraction outside (0, 1)', () => {
    const ds = events([['a', 'x', 1]]);
    expect(() => temporalSplit(ds.events, 1)).toThrow(/fraction/);
  });

  it('puts negative feedback on neither side, and keeps it per shopper up to a time', () => {
    const b = new DatasetBuilder();
    const [view, dislike, ret] = ['view', 'dislike', 'return'].map(eventTypeCode);
    for (const [i, t] of [
      ['p', 1],
      ['q', 2],
      ['r', 3],
      ['s', 4],
      ['t', 5],
    ] as const)
      b.addEvent('a', i, view, t);
    b.addEvent('a', 'bad', dislike, 6);
    b.addEvent('a', 'q', ret, 7);
    b.addEvent('b', 'late', dislike, 50);
    const ds = b.build({ format: 'test', path: '-', files: [] });
    const s = temporalSplit(ds.events);
    // Five interactions: one held out (the last view), none of the negative events anywhere.
    expect(ids(ds, s.train)).toEqual(['a:p', 'a:q', 'a:r', 'a:s']);
    expect(ids(ds, s.test)).toEqual(['a:t']);
    const neg = negativeFeedback(ds.events, ds.numUsers, 10);
    const of = (u: string): string[] => {
      const k = ds.users.indexOf(u);
      return Array.from(neg.items.subarray(neg.indptr[k], neg.indptr[k + 1]), (i) => ds.items.idAt(i)).sort();
    };
    expect(of('a')).toEqual(['bad', 'q']);
    expect(of('b')).toEqual([]);
  });
});
