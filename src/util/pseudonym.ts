import { createHmac, randomBytes } from 'node:crypto';

/**
 * Users are stored under a keyed hash of their id: the event log and Redis never hold the ids
 * themselves, and a forgotten shopper's tombstone is a hash too. The salt is the store's own,
 * created once and kept with the store, so every replica and every restart derives the same names.
 */
export class Pseudonyms {
  constructor(readonly salt: string) {}

  /** 128 bits of HMAC-SHA256, base64url: short keys, no collisions in practice. */
  of(user: string): string {
    return createHmac('sha256', this.salt).update(user).digest('base64url').slice(0, 22);
  }
}

export function newSalt(): string {
  return randomBytes(32).toString('base64url');
}
