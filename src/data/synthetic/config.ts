import { VitrineError } from '../../protocol/errors.js';
/** Sizes and behaviour knobs of the synthetic shop. Every field is recorded in meta.json. */
export interface SyntheticConfig {
  seed: number;
  users: number;
  items: number;
  categories: number;
  brandsPerCategory: number;
  /** Dimensions of the hidden taste space. */
  dim: number;
  weeks: number;
  /** Mean sessions per user per week (before per-user activity scaling). */
  sessionsPerUserWeek: number;
  /** Promotions started each week. */
  promotionsPerWeek: number;
  /** How many of each user's truly preferred items the ground truth lists. */
  truthTopK: number;
}

export const SIZE_PRESETS = {
  /** ~800 events: unit tests. */
  tiny: { users: 60, items: 120, categories: 6, weeks: 2, sessionsPerUserWeek: 1.2 },
  /** ~40k events: server tests, quick demos. */
  small: { users: 800, items: 600, categories: 12, weeks: 8, sessionsPerUserWeek: 1.0 },
  /** ~160k events: the default demo. */
  medium: { users: 3000, items: 2000, categories: 16, weeks: 10, sessionsPerUserWeek: 0.9 },
  /** ~1.7M events. */
  large: { users: 25000, items: 20000, categories: 24, weeks: 16, sessionsPerUserWeek: 0.7 },
} as const;

export type SizePreset = keyof typeof SIZE_PRESETS;

export function configFor(size: SizePreset, overrides: Partial<SyntheticConfig> = {}): SyntheticConfig {
  const p = SIZE_PRESETS[size];
  const cfg: SyntheticConfig = {
    seed: 42,
    users: p.users,
    items: p.items,
    categories: p.categories,
    brandsPerCategory: 6,
    dim: 8,
    weeks: p.weeks,
    sessionsPerUserWeek: p.sessionsPerUserWeek,
    promotionsPerWeek: 3,
    truthTopK: 50,
    ...overrides,
  };
  validateConfig(cfg);
  return cfg;
}

export function validateConfig(c: SyntheticConfig): void {
  const positiveInt = (name: keyof SyntheticConfig, min = 1): void => {
    const v = c[name];
    if (!Number.isInteger(v) || v < min)
      throw new VitrineError('invalid_argument', `synthetic config: ${name} must be an integer >= ${min}, got ${v}`);
  };
  positiveInt('users');
  positiveInt('items', 2);
  positiveInt('categories');
  positiveInt('brandsPerCategory');
  positiveInt('dim');
  positiveInt('weeks');
  positiveInt('truthTopK');
  positiveInt('promotionsPerWeek', 0);
  if (!Number.isInteger(c.seed) || c.seed < 0 || c.seed > 0xffffffff)
    throw new VitrineError('invalid_argument', `synthetic config: seed must be an integer in [0, 2^32), got ${c.seed}`);
  if (!(c.sessionsPerUserWeek > 0))
    throw new VitrineError(
      'invalid_argument',
      `synthetic config: sessionsPerUserWeek must be > 0, got ${c.sessionsPerUserWeek}`,
    );
  const sessions = c.users * c.weeks * c.sessionsPerUserWeek;
  if (sessions < 10)
    throw new VitrineError(
      'invalid_argument',
      `synthetic config: users × weeks × sessionsPerUserWeek expects ${sessions.toPrecision(3)} sessions in all; at least 10 make a shop to learn from`,
    );
  // The ground truth scores every item for every user: 20× the large preset is the most that
  // finishes in reasonable time.
  if (c.users * c.items > 1e10)
    throw new VitrineError(
      'invalid_argument',
      `synthetic config: users × items is ${c.users} × ${c.items}; at most 10^10 (the ground truth scores every item for every user)`,
    );
  if (c.categories > c.items)
    throw new VitrineError(
      'invalid_argument',
      `synthetic config: categories (${c.categories}) cannot exceed items (${c.items})`,
    );
}

/** Roughly how many events a config produces (measured: ~6 events a session), for progress bars. */
export function expectedEvents(c: SyntheticConfig): number {
  return Math.round(c.users * c.weeks * c.sessionsPerUserWeek * 6);
}
