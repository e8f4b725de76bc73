import { historyOf } from '../data/history.js';
import { itemsOf, type UserItems, usersWithItems } from '../data/interactions.js';
import { retrieve, type RetrievalConfig } from '../index/retrieve.js';
import { MAX_ATTRIBUTE_CANDIDATES } from '../model/attribute-lists.js';
import { VitrineError } from '../protocol/errors.js';
import type { FirstStage } from '../rank/labelled-rows.js';
import { ItemAccumulator } from '../util/item-accumulator.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';

/** `train --attribute-candidates`: a number, or `auto` (chosen on the validation slice). */
export type AttributeCandidatesOption = number | 'auto';

/** The places `auto` tries giving the attribute source, taken from HNSW's. */
export const AUTO_ATTRIBUTE_CANDIDATES = [25, 50] as const;
/** Validation shoppers `auto` compares on (a seeded sample): enough to tell 0.005 of recall apart. */
const AUTO_USERS = 5000;

export interface AttributeChoice {
  retrieval: RetrievalConfig;
  chosenBy: string;
  /** Validation candidate recall per number of places tried, when `auto` compared them. */
  validationRecall?: Record<string, number>;
}

/**
 * How many of HNSW's places the attribute source gets. Where attributes describe tastes (Beauty's
 * product attributes) it finds what the other sources miss; where they are broad (MovieLens's
 * genres) the places serve better as HNSW's: so `auto` retrieves the validation slice with each
 * split and keeps the one that finds most. A number is taken from HNSW's places as `auto`'s are.
 */
export function chooseAttributeCandidates(
  stage: Omit<FirstStage, 'features' | 'users'>,
  validation: UserItems,
  option: AttributeCandidatesOption,
  seed: number,
): AttributeChoice {
  const base = stage.retrieval;
  const split = (n: number): RetrievalConfig => ({ ...base, candidates: base.candidates - n, attributeCandidates: n });
  if (option !== 'auto') checkAttributeCandidates(option, base.candidates);
  if (!stage.graphs.attributes)
    return {
      retrieval: split(0),
      chosenBy: `${describe(option)}: the catalogue has no attributes, categories or brands`,
    };
  if (option !== 'auto') return { retrieval: split(option), chosenBy: describe(option) };
  const splits = [0, ...AUTO_ATTRIBUTE_CANDIDATES.filter((n) => n < base.candidates)].map(split);
  const recall = validationRecall(stage, validation, splits, seed);
  let best = 0;
  for (let s = 1; s < splits.length; s++) if (recall[s] > recall[best]) best = s;
  const byPlaces = Object.fromEntries(splits.map((c, s) => [String(c.attributeCandidates), round4(recall[s])]));
  const tried = Object.entries(byPlaces)
    .map(([n, r]) => `${r} with ${n}`)
    .join(', ');
  return {
    retrieval: splits[best],
    chosenBy: `auto: validation candidate recall ${tried} (places taken from HNSW's)`,
    validationRecall: byPlaces,
  };
}

/** The places given must leave HNSW some, and fit the lists (see MAX_ATTRIBUTE_CANDIDATES). */
export function checkAttributeCandidates(n: number, candidates: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_ATTRIBUTE_CANDIDATES || n >= candidates)
    throw new VitrineError(
      'invalid_argument',
      `--attribute-candidates: ${n} is not allowed: 'auto' or a whole number from 0 to ${Math.min(MAX_ATTRIBUTE_CANDIDATES, candidates - 1)} (its places are taken from --candidates ${candidates}, HNSW's)`,
    );
}

const describe = (option: AttributeCandidatesOption): string =>
  option === 'auto' ? 'auto' : `--attribute-candidates ${option}`;

/** Mean share of each sampled shopper's new validation items among the candidates, per config. */
function validationRecall(
  stage: Omit<FirstStage, 'features' | 'users'>,
  validation: UserItems,
  configs: RetrievalConfig[],
  seed: number,
): number[] {
  const users = usersWithItems(validation, AUTO_USERS, new Rng(seed));
  const exclude = new Uint8Array(validation.numItems);
  const acc = new ItemAccumulator(1);
  const sums = configs.map(() => 0);
  let counted = 0;
  const progress = new Progress('attribute candidates', users.length, 'users');
  for (const u of users) {
    const h = historyOf(stage.histories.ui, stage.histories.totals, u);
    for (const i of h.items) exclude[i] = 1;
    const pos = new Set<number>();
    for (const i of itemsOf(validation, u)) if (!exclude[i]) pos.add(i);
    if (pos.size > 0 && h.items.length > 0) {
      const vector = stage.userFactors.subarray(u * stage.factors, (u + 1) * stage.factors);
      configs.forEach((cfg, c) => {
        let hits = 0;
        for (const i of retrieve(stage.hnsw, stage.graphs, vector, h, exclude, cfg, acc).items) if (pos.has(i)) hits++;
        sums[c] += hits / pos.size;
      });
      counted++;
    }
    for (const i of h.items) exclude[i] = 0;
    progress.tick();
  }
  progress.finish();
  return sums.map((s) => (counted > 0 ? s / counted : 0));
}

const round4 = (x: number): number => Number(x.toFixed(4));
