import { createHmac, randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'vitrine' }, timestamp: pino.stdTimeFunctions.isoTime });
}

/**
 * Pseudonymises user ids for logs: a keyed hash, stable for one key (so a support engineer with the
 * key can correlate), meaningless without it. Without a configured key a random one is used per process.
 */
export class Pseudonymiser {
  private readonly key: Buffer;
  constructor(key?: string) {
    this.key = key ? Buffer.from(key, 'utf8') : randomBytes(32);
  }
  user(id: string | undefined): string | undefined {
    if (id === undefined) return undefined;
    return `p_${createHmac('sha256', this.key).update(id).digest('hex').slice(0, 16)}`;
  }
}
