/**
 * Always-valid inference for A/B tests: the mixture sequential probability ratio test (mSPRT) of
 * Johari, Koomen, Pekelis and Walsh ("Peeking at A/B Tests", KDD 2017; Operations Research 2022),
 * whose intervals are the normal-mixture confidence sequences of Howard, Ramdas, McAuliffe and
 * Sekhon (Annals of Statistics 2021), used with plug-in variances as the asymptotic confidence
 * sequences of Waudby-Smith et al. (2023). Read at any time, as often as wanted, the chance that an
 * interval ever excludes the true difference stays at most alpha.
 */

export interface Interval {
  /** Treatment minus control. */
  diff: number;
  lo: number;
  hi: number;
  /**
   * 1/Λ, the mSPRT's statistic now: valid whenever read (Ville's inequality), though not the running
   * minimum Johari et al. report, so it may rise again; the mixture is tuned for alpha = 0.05.
   */
  pValue: number;
  /** The estimate's standard error (what a fixed-horizon test would use, valid only if read once). */
  se: number;
}

/**
 * The mixture's tuning for an interval tightest near `planned` observations (Howard et al. 2021, eq. 3.9
 * with the optimum of their section 3.5): rho² = (2 log(1/alpha) + log(1 + 2 log(1/alpha))) / planned.
 */
export function mixtureRho2(planned: number, alpha: number): number {
  const l = 2 * Math.log(1 / alpha);
  return (l + Math.log(1 + l)) / planned;
}

/**
 * The interval for a difference `diff` whose estimate has variance `v` (sigma²/n for each arm,
 * summed), with mixing variance tau²: diff ± sqrt(v (v + tau²) / tau² · (log((v + tau²) / v) + 2 log(1/alpha))).
 */
export function mixtureInterval(diff: number, v: number, tau2: number, alpha: number): Interval {
  if (!(v > 0) || !(tau2 > 0))
    return {
      diff,
      lo: Number.NEGATIVE_INFINITY,
      hi: Number.POSITIVE_INFINITY,
      pValue: 1,
      se: Math.sqrt(Math.max(0, v)),
    };
  const half = Math.sqrt(((v * (v + tau2)) / tau2) * (Math.log((v + tau2) / v) + 2 * Math.log(1 / alpha)));
  // The mSPRT statistic at zero difference; 1/Λ is the always-valid p-value.
  const logLambda = 0.5 * Math.log(v / (v + tau2)) + (tau2 * diff * diff) / (2 * v * (v + tau2));
  return { diff, lo: diff - half, hi: diff + half, pValue: Math.min(1, Math.exp(-logLambda)), se: Math.sqrt(v) };
}

/** Per-user means: n users whose values sum to `sum` with squares summing to `sumSq`. */
export interface Moments {
  n: number;
  sum: number;
  sumSq: number;
}

export const mean = (m: Moments): number => (m.n > 0 ? m.sum / m.n : 0);

/** The sample variance (n − 1), zero below two users. */
export function variance(m: Moments): number {
  if (m.n < 2) return 0;
  return Math.max(0, (m.sumSq - (m.sum * m.sum) / m.n) / (m.n - 1));
}

/**
 * Treatment against control on a per-user metric. Below `minUsers` in either arm, or while neither
 * arm varies, there is no interval (the plug-in variance is not yet worth trusting): the report says so.
 */
export function compare(
  treatment: Moments,
  control: Moments,
  planned: number,
  alpha: number,
  minUsers = 30,
): Interval | undefined {
  if (treatment.n < minUsers || control.n < minUsers) return undefined;
  const st = variance(treatment);
  const sc = variance(control);
  const v = st / treatment.n + sc / control.n;
  // No spread in either arm yet (no one clicked, or everyone did): nothing to scale an interval by.
  if (!(v > 0)) return undefined;
  const tau2 = (st + sc) * mixtureRho2(planned, alpha);
  return mixtureInterval(mean(treatment) - mean(control), v, tau2, alpha);
}

/**
 * Pearson's chi-square test of the users per variant against the configured weights: a sample
 * ratio mismatch (a p-value below 0.001, the threshold of Fabijan et al., KDD 2019) means the
 * assignment or the logging is broken and the results should not be read.
 */
export function sampleRatio(
  observed: readonly number[],
  weights: readonly number[],
): { chiSquare: number; pValue: number } {
  const n = observed.reduce((s, x) => s + x, 0);
  const w = weights.reduce((s, x) => s + x, 0);
  if (n === 0) return { chiSquare: 0, pValue: 1 };
  let chi = 0;
  for (let j = 0; j < observed.length; j++) {
    const expected = (n * weights[j]) / w;
    chi += (observed[j] - expected) ** 2 / expected;
  }
  return { chiSquare: chi, pValue: chiSquareSurvival(chi, observed.length - 1) };
}

/** P(X > x) for X chi-square with k degrees of freedom: the regularised upper incomplete gamma Q(k/2, x/2). */
export function chiSquareSurvival(x: number, k: number): number {
  if (Number.isNaN(x)) return 0;
  if (x <= 0) return 1;
  if (!Number.isFinite(x)) return 0;
  return upperGamma(k / 2, x / 2);
}

/** Q(a, x) by its series below a + 1 and its continued fraction above (Lentz's method). */
function upperGamma(a: number, x: number): number {
  const lead = Math.exp(-x + a * Math.log(x) - logGamma(a));
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 500 && Math.abs(term) > Math.abs(sum) * 1e-15; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return Math.max(0, 1 - sum * lead);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, h * lead);
}

/** log Γ(x) for x > 0 (Lanczos, g = 7, n = 9): 15 digits, ample for p-values. */
function logGamma(x: number): number {
  const g = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = g[0];
  const t = y + 7.5;
  for (let i = 1; i < 9; i++) a += g[i] / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}
