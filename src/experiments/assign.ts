import { createHash } from 'node:crypto';
import type { Experiment, Variant } from './config.js';

/** 2^-48: the hash's first 48 bits as a share of one. */
const UNIT = 2 ** -48;

/**
 * A number in [0, 1) from (salt, purpose, user), the same on every replica and after every restart.
 * Entry into the experiment and the variant use separate purposes, so the variant of a shopper does
 * not depend on the traffic share: growing the share adds shoppers and moves no one.
 */
export function unitHash(salt: string, purpose: 'in' | 'variant', user: string): number {
  const h = createHash('sha256').update(salt).update('\0').update(purpose).update('\0').update(user).digest();
  return h.readUIntBE(0, 6) * UNIT;
}

/** The shopper's variant of a running experiment, or undefined when they are not in it. */
export function assign(e: Experiment, user: string): Variant | undefined {
  if (!e.active || unitHash(e.salt, 'in', user) >= e.share) return undefined;
  return pick(e.variants, unitHash(e.salt, 'variant', user));
}

/** The variant whose slice of the weights holds `u`. */
export function pick(variants: readonly Variant[], u: number): Variant {
  const total = variants.reduce((s, v) => s + v.weight, 0);
  let edge = 0;
  for (const v of variants) {
    edge += v.weight / total;
    if (u < edge) return v;
  }
  return variants[variants.length - 1];
}
