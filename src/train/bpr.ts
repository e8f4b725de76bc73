import type { UserItems } from '../data/interactions.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { foldInAllUsers, randomFactors } from './als.js';
import { type AlsModel } from '../model/als.js';

export interface BprParams {
  factors: number;
  /** SGD step size. */
  learningRate: number;
  /** L2 penalty on the factors touched by each update. */
  l2: number;
  /** Passes over the (user, item) pairs, each with fresh negatives. */
  epochs: number;
  /**
   * Fold-in settings: serving forms every user vector (stored or online) by the same least-squares
   * solve ALS uses, against BPR's item factors, so offline and online vectors never disagree.
   */
  alpha: number;
  regularization: number;
  seed: number;
}

export const DEFAULT_BPR: BprParams = {
  factors: 64,
  learningRate: 0.05,
  l2: 0.005,
  epochs: 60,
  alpha: 2,
  regularization: 20,
  seed: 1,
};

/**
 * Bayesian personalised ranking (Rendle et al. 2009): item factors learned by SGD on "a user's
 * item beats a random item", uniform negatives. User vectors are then folded in (see `alpha`), which
 * makes the result a drop-in for ALS's: same bundle layout, same online fold-in.
 */
export function trainBpr(ui: UserItems, params: BprParams, label = 'bpr'): AlsModel {
  const d = params.factors;
  const rng = new Rng(params.seed);
  const X = randomFactors(ui.numUsers, d, rng);
  const Y = randomFactors(ui.numItems, d, rng);
  // The owner of each (user, item) entry, so an epoch can visit entries in random order.
  const owner = new Int32Array(ui.items.length);
  for (let u = 0; u < ui.numUsers; u++) owner.fill(u, ui.indptr[u], ui.indptr[u + 1]);
  const positives = userSets(ui);
  const order = Int32Array.from({ length: ui.items.length }, (_, p) => p);
  const lr = params.learningRate;
  const l2 = params.l2;
  const progress = new Progress(label, params.epochs, 'epochs');
  for (let epoch = 0; epoch < params.epochs; epoch++) {
    shuffle(order, rng);
    for (let q = 0; q < order.length; q++) {
      const p = order[q];
      const u = owner[p];
      const i = ui.items[p];
      let j = rng.int(ui.numItems);
      // Rejection sampling: a user's positives are a tiny share of the catalogue.
      for (let tries = 0; tries < 20 && positives[u].has(j); tries++) j = rng.int(ui.numItems);
      if (positives[u].has(j)) continue;
      const uo = u * d;
      const io = i * d;
      const jo = j * d;
      let x = 0;
      for (let f = 0; f < d; f++) x += X[uo + f] * (Y[io + f] - Y[jo + f]);
      // d/dx log σ(x) = σ(-x)
      const g = 1 / (1 + Math.exp(x));
      for (let f = 0; f < d; f++) {
        const wu = X[uo + f];
        const hi = Y[io + f];
        const hj = Y[jo + f];
        X[uo + f] += lr * (g * (hi - hj) - l2 * wu);
        Y[io + f] += lr * (g * wu - l2 * hi);
        Y[jo + f] += lr * (-g * wu - l2 * hj);
      }
    }
    progress.tick();
  }
  progress.finish();
  return foldInAllUsers(ui, Y, X, d, params);
}

function userSets(ui: UserItems): Set<number>[] {
  return Array.from({ length: ui.numUsers }, (_, u) => new Set(ui.items.subarray(ui.indptr[u], ui.indptr[u + 1])));
}

function shuffle(a: Int32Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
