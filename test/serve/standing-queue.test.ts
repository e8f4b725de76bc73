import { describe, expect, it } from 'vitest';
import { StandingQueue } from '../../src/serve/standing-queue.js';

/** Signs every `every` ms from `from` to `to` (inclusive). */
function signs(q: StandingQueue, from: number, to: number, every: number): void {
  for (let t = from; t <= to; t += every) q.sign(t);
}

describe('telling a standing queue from a burst', () => {
  it('stands once signs have kept coming for longer than the interval, and stops an interval after the last', () => {
    const q = new StandingQueue(100);
    signs(q, 0, 100, 10);
    expect(q.standing(100)).toBe(false);
    signs(q, 110, 150, 10);
    expect(q.standing(150)).toBe(true);
    expect(q.standing(250)).toBe(true);
    expect(q.standing(251)).toBe(false);
  });

  it('starts a spell over after a gap longer than the interval, or a request served in order in time', () => {
    const gap = new StandingQueue(100);
    signs(gap, 0, 80, 10);
    signs(gap, 200, 290, 10);
    expect(gap.standing(290)).toBe(false);
    signs(gap, 300, 310, 10);
    expect(gap.standing(310)).toBe(true);

    const keptUp = new StandingQueue(100);
    signs(keptUp, 0, 90, 10);
    keptUp.keptUp(95);
    signs(keptUp, 100, 190, 10);
    expect(keptUp.standing(190)).toBe(false);
    signs(keptUp, 200, 210, 10);
    expect(keptUp.standing(210)).toBe(true);
    // Once standing, requests served in time (newest first) do not end it; only the quiet does.
    keptUp.keptUp(215);
    expect(keptUp.standing(215)).toBe(true);
  });
});
