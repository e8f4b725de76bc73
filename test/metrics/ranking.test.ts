import { describe, expect, it } from 'vitest';
import type { UserItems } from '../../src/data/interactions.js';
import { evaluateRanking } from '../../src/metrics/ranking.js';

/** Per-user item lists as the protocol's CSR view. */
function userItems(lists: number[][], numItems: number): UserItems {
  const indptr = new Int32Array(lists.length + 1);
  lists.forEach((l, u) => (indptr[u + 1] = indptr[u] + l.length));
  const items = Int32Array.from(lists.flat());
  return {
    numUsers: lists.length,
    numItems,
    indptr,
    items,
    count: new Float32Array(items.length).fill(1),
    lastTime: new Float64Array(items.length),
    lastType: new Uint8Array(items.length),
  };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, j) => from + j);

describe('ranking metrics of the quality protocol', () => {
  // User 0: trained on 0 and 1; tested on 1 (a repeat: not counted), 5 and 120.
  // User 1: tested only on an item from its train set (no counted item: not averaged).
  // User 2: no train items; tested on 7. User 3: no test items.
  const n = 300;
  const train = userItems([[0, 1], [3], [], [4]], n);
  const test = userItems([[1, 5, 120], [3], [7], []], n);
  const lists: Record<number, number[]> = {
    // 5 at rank 2; 120 at rank 151, past Recall@50 but within 200.
    0: [2, 5, ...range(130, 278), 120, ...range(278, 300)],
    2: [7, 2, 5, ...range(130, 137)],
  };
  const asked: number[] = [];
  const recommend = (u: number, k: number, exclude: Uint8Array): Int32Array => {
    asked.push(k);
    // The user's train items are what is excluded, and only those.
    expect(Array.from(exclude.keys()).filter((i) => exclude[i])).toEqual(
      Array.from(train.items.subarray(train.indptr[u], train.indptr[u + 1])),
    );
    return Int32Array.from((lists[u] ?? []).slice(0, k));
  };

  it('counts only test items outside train, with binary gains and the ideal DCG over min(|test|, 10)', () => {
    const m = evaluateRanking(recommend, train, test);
    const ndcgUser0 = 1 / Math.log2(3) / (1 + 1 / Math.log2(3));
    expect(m.users).toBe(2);
    expect(m['recall@10']).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(m['ndcg@10']).toBeCloseTo((ndcgUser0 + 1) / 2, 12);
    expect(m['hr@10']).toBe(1);
    expect(m['mrr@10']).toBeCloseTo((1 / 2 + 1) / 2, 12);
    expect(m['recall@50']).toBeCloseTo(0.75, 12);
    // Of five test interactions, two repeat a train item.
    expect(m.repeatShare).toBeCloseTo(2 / 5, 12);
    // Top-10 lists cover 2, 5, 130-137 and 7.
    expect(m['coverage@10']).toBeCloseTo(11 / n, 12);
    expect(m.deepRecall).toBeUndefined();
    expect(new Set(asked)).toEqual(new Set([50]));
  });

  it('reports the recall at a retrieval depth past 50 when asked', () => {
    asked.length = 0;
    const m = evaluateRanking(recommend, train, test, undefined, 200);
    expect(m.deepRecall).toEqual({ k: 200, recall: 1 });
    expect(m['recall@50']).toBeCloseTo(0.75, 12);
    expect(new Set(asked)).toEqual(new Set([200]));
    expect(evaluateRanking(recommend, train, test, undefined, 100).deepRecall).toEqual({ k: 100, recall: 0.75 });
    // A depth below 50 counts only what lies within it.
    expect(evaluateRanking(recommend, train, test, undefined, 1).deepRecall).toEqual({ k: 1, recall: 0.5 });
  });

  it('leaves the means undefined when no user has a counted test item', () => {
    const m = evaluateRanking(recommend, train, userItems([[1], [3], [], []], n));
    expect([m.users, m['ndcg@10'], m['recall@50']]).toEqual([0, NaN, NaN]);
    expect(m.repeatShare).toBe(1);
  });

  it('counts repeats and excludes nothing in the variant where repeats count', () => {
    // User 0's list now leads with its train item 1 (a repeat in test); user 1's with its repeat 3.
    const withRepeats: Record<number, number[]> = { 0: [1, 5, 2], 1: [9, 3], 2: [7] };
    const rec = (u: number, k: number, exclude: Uint8Array): Int32Array => {
      expect(exclude.some((x) => x !== 0)).toBe(false);
      return Int32Array.from((withRepeats[u] ?? []).slice(0, k));
    };
    const m = evaluateRanking(rec, train, test, undefined, undefined, true);
    // Users 0 (1, 5, 120), 1 (3) and 2 (7) all count: recall 2/3, 1, 1.
    expect(m.users).toBe(3);
    expect(m['recall@10']).toBeCloseTo((2 / 3 + 1 + 1) / 3, 12);
    const idcg3 = 1 + 1 / Math.log2(3) + 1 / Math.log2(4);
    expect(m['ndcg@10']).toBeCloseTo(((1 + 1 / Math.log2(3)) / idcg3 + 1 / Math.log2(3) + 1) / 3, 12);
    expect(m.repeatShare).toBeCloseTo(2 / 5, 12);
  });
});
