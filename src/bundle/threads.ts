import type { BundleData } from './model.js';
import { parseJsonSteps } from '../util/json-steps.js';
import { runAtOnce } from '../util/steps.js';
import { peopleAndItems } from './read.js';

/**
 * A bundle to hand another thread: its catalogue and users left out where their bytes are in
 * shared memory. Structured-cloning 100k catalogue items and 20k users held the sending thread
 * 290-370 ms for two workers on the bench bundle (the main thread, while serving, at every reload); the
 * receiving thread parses the shared bytes in its own time instead (fromThread).
 */
export function forThread(b: BundleData): BundleData {
  return b.sharedText ? { ...b, items: [], userIds: [], users: [] } : b;
}

/** The bundle as forThread's sender had it: the catalogue and users parsed where they were left out. */
export function fromThread(b: BundleData): BundleData {
  if (!b.sharedText) return b;
  const { catalog, users } = b.sharedText;
  return { ...b, ...peopleAndItems(runAtOnce(parseJsonSteps(catalog)), runAtOnce(parseJsonSteps(users))) };
}
