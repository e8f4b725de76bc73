import { transpose, type UserItems } from '../data/interactions.js';
import { gram } from '../util/linalg.js';
import { Rng } from '../util/rng.js';
import { Progress } from '../util/progress.js';
import { confidence, foldInUser, type AlsModel } from '../model/als.js';

export interface AlsParams {
  factors: number;
  regularization: number;
  /** Confidence c = 1 + alpha * log(1 + events on the pair). */
  alpha: number;
  iterations: number;
  /** Conjugate-gradient steps per row and sweep (warm-started, so a few suffice). */
  cgSteps: number;
  seed: number;
}

export const DEFAULT_ALS: AlsParams = {
  factors: 64,
  regularization: 5,
  alpha: 10,
  iterations: 12,
  cgSteps: 3,
  seed: 1,
};

/** Small random starting factors (N(0, 0.1²/d) per coordinate), drawn in row order from `rng`. */
export function randomFactors(rows: number, d: number, rng: Rng): Float32Array {
  const scale = 0.1 / Math.sqrt(d);
  return Float32Array.from({ length: rows * d }, () => rng.normal() * scale);
}

/**
 * Implicit-feedback ALS (Hu, Koren & Volinsky 2008) with conjugate-gradient row updates (Takács et
 * al. 2011). The last sweep solves every user exactly with `foldInUser`, the same function online
 * serving uses for a shopper's current history, so stored and online user vectors agree.
 */
export function trainAls(ui: UserItems, params: AlsParams, label = 'als'): AlsModel {
  const d = params.factors;
  const rng = new Rng(params.seed);
  const X = new Float32Array(ui.numUsers * d);
  const Y = randomFactors(ui.numItems, d, rng);

  const conf = Float32Array.from(ui.count, (c) => confidence(params.alpha, c));
  const t = transpose(ui);
  // Confidences in item-major order, matching t.users.
  const confT = new Float32Array(ui.items.length);
  {
    const fill = t.indptr.slice(0, ui.numItems);
    for (let u = 0; u < ui.numUsers; u++) {
      for (let p = ui.indptr[u]; p < ui.indptr[u + 1]; p++) confT[fill[ui.items[p]]++] = conf[p];
    }
  }

  const scratch = new CgScratch(d);
  const progress = new Progress(label, params.iterations, 'sweeps');
  for (let it = 0; it < params.iterations; it++) {
    sweep(X, Y, ui.numUsers, ui.numItems, ui.indptr, ui.items, conf, params, scratch);
    sweep(Y, X, ui.numItems, ui.numUsers, t.indptr, t.users, confT, params, scratch);
    progress.tick();
  }
  progress.finish();
  return foldInAllUsers(ui, Y, X, d, params);
}

/**
 * The model for trained item factors, with every stored user vector (overwriting `userFactors`)
 * set by `foldInUser`, the solve online serving runs on a live history: stored and online vectors agree.
 */
export function foldInAllUsers(
  ui: UserItems,
  itemFactors: Float32Array,
  userFactors: Float32Array,
  d: number,
  p: Pick<AlsModel, 'alpha' | 'regularization'>,
): AlsModel {
  const model: AlsModel = {
    factors: d,
    regularization: p.regularization,
    alpha: p.alpha,
    numItems: ui.numItems,
    numUsers: ui.numUsers,
    itemFactors,
    userFactors,
    itemGram: gram(itemFactors, ui.numItems, d),
  };
  for (let u = 0; u < ui.numUsers; u++) {
    const s = ui.indptr[u];
    const e = ui.indptr[u + 1];
    if (e > s) userFactors.set(foldInUser(model, ui.items.subarray(s, e), ui.count.subarray(s, e)), u * d);
    else userFactors.fill(0, u * d, (u + 1) * d);
  }
  return model;
}

class CgScratch {
  readonly G: Float64Array;
  readonly r: Float64Array;
  readonly p: Float64Array;
  readonly Ap: Float64Array;
  readonly x: Float64Array;
  constructor(d: number) {
    this.G = new Float64Array(d * d);
    this.r = new Float64Array(d);
    this.p = new Float64Array(d);
    this.Ap = new Float64Array(d);
    this.x = new Float64Array(d);
  }
}

/** Updates every row of `target` given the fixed `other` factors, by warm-started CG. */
function sweep(
  target: Float32Array,
  other: Float32Array,
  rows: number,
  otherRows: number,
  indptr: Int32Array,
  cols: Int32Array,
  conf: Float32Array,
  params: AlsParams,
  s: CgScratch,
): void {
  const d = params.factors;
  const G = gram(other, otherRows, d);
  const lambda = params.regularization;
  const { r, p, Ap, x } = s;

  const applyA = (v: Float64Array, out: Float64Array, start: number, end: number): void => {
    for (let a = 0; a < d; a++) {
      let acc = lambda * v[a];
      const ga = a * d;
      for (let b = 0; b < d; b++) acc += G[ga + b] * v[b];
      out[a] = acc;
    }
    for (let q = start; q < end; q++) {
      const o = cols[q] * d;
      let yv = 0;
      for (let k = 0; k < d; k++) yv += other[o + k] * v[k];
      const w = (conf[q] - 1) * yv;
      for (let k = 0; k < d; k++) out[k] += w * other[o + k];
    }
  };

  for (let row = 0; row < rows; row++) {
    const start = indptr[row];
    const end = indptr[row + 1];
    const ro = row * d;
    if (start === end) {
      target.fill(0, ro, ro + d);
      continue;
    }
    for (let k = 0; k < d; k++) x[k] = target[ro + k];
    applyA(x, Ap, start, end);
    // r = b - A x with b = sum c * y
    for (let k = 0; k < d; k++) r[k] = -Ap[k];
    for (let q = start; q < end; q++) {
      const o = cols[q] * d;
      const c = conf[q];
      for (let k = 0; k < d; k++) r[k] += c * other[o + k];
    }
    p.set(r);
    let rs = 0;
    for (let k = 0; k < d; k++) rs += r[k] * r[k];
    for (let step = 0; step < params.cgSteps && rs > 1e-12; step++) {
      applyA(p, Ap, start, end);
      let pAp = 0;
      for (let k = 0; k < d; k++) pAp += p[k] * Ap[k];
      const alpha = rs / pAp;
      let rsNew = 0;
      for (let k = 0; k < d; k++) {
        x[k] += alpha * p[k];
        r[k] -= alpha * Ap[k];
        rsNew += r[k] * r[k];
      }
      const beta = rsNew / rs;
      for (let k = 0; k < d; k++) p[k] = r[k] + beta * p[k];
      rs = rsNew;
    }
    for (let k = 0; k < d; k++) target[ro + k] = x[k];
  }
}
