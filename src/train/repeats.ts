import { itemsOf, type UserItems } from '../data/interactions.js';

/** Whether the ranker learns "buy it again": from its rows (auto), or as told. */
export type RepeatsMode = 'auto' | 'on' | 'off';

/**
 * Below this share of later (shopper, item) pairs that repeat an earlier one, auto leaves repeats out:
 * a film catalogue (MovieLens: 0.0%) or reviews (Beauty: 0.0%) have none to learn from, while a shop
 * selling consumables has many (the synthetic shop: 49-53% by seed).
 */
export const REPEAT_SHARE_MIN = 0.02;

export interface RepeatsDecision {
  /** Share of the validation slice's (shopper, item) pairs the shopper already had before it. */
  share: number;
  learnt: boolean;
  chosenBy: string;
}

export function repeatShare(before: UserItems, later: UserItems): number {
  let pairs = 0;
  let repeats = 0;
  const had = new Uint8Array(before.numItems);
  for (let u = 0; u < later.numUsers; u++) {
    const mine = itemsOf(before, u);
    for (const i of mine) had[i] = 1;
    for (const i of itemsOf(later, u)) {
      pairs++;
      repeats += had[i];
    }
    for (const i of mine) had[i] = 0;
  }
  return pairs > 0 ? repeats / pairs : 0;
}

export function learnsRepeats(mode: RepeatsMode, share: number): RepeatsDecision {
  const pct = `${(100 * share).toFixed(1)}% of validation pairs repeat an earlier item`;
  if (mode !== 'auto') return { share, learnt: mode === 'on', chosenBy: `--repeats ${mode} (${pct})` };
  const learnt = share >= REPEAT_SHARE_MIN;
  return { share, learnt, chosenBy: `auto: ${pct}, ${learnt ? '>=' : '<'} ${100 * REPEAT_SHARE_MIN}%` };
}
