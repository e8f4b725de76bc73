import type { CallName } from '../protocol/calls.js';
import type { ErrorBody } from '../protocol/errors.js';
import type { ResultOf } from '../protocol/replies.js';
import { CallError } from './errors.js';
import type { Requests } from './requests.js';
import type { Answer } from './ws.js';

/**
 * The same calls over HTTP (`POST /v1/<call>`), for a back end that makes a few calls and keeps no
 * connection: every call is a request of its own.
 */
export class VitrineHttpClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly o: { token?: string; timeoutMs?: number } = {},
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  async call<C extends CallName>(call: C, body: Requests[C], options: { timeoutMs?: number } = {}): Promise<Answer<C>> {
    const timeoutMs = options.timeoutMs ?? this.o.timeoutMs ?? 5000;
    let response: Response;
    try {
      response = await fetch(`${this.base}/v1/${call}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.o.token && { authorization: `Bearer ${this.o.token}` }),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const timedOut = (e as Error).name === 'TimeoutError';
      throw new CallError({
        code: timedOut ? 'client_timeout' : 'not_connected',
        message: timedOut ? `no reply to ${call} within ${timeoutMs} ms` : `${this.base}: ${(e as Error).message}`,
      });
    }
    const reply = (await response.json()) as {
      result?: ResultOf<C>;
      error?: ErrorBody;
      bundle?: string;
      serverMs?: number;
      degraded?: string;
    };
    if (reply.error) throw new CallError(reply.error);
    return {
      result: reply.result as ResultOf<C>,
      bundle: reply.bundle ?? '',
      serverMs: reply.serverMs ?? 0,
      ...(reply.degraded !== undefined && { degraded: reply.degraded }),
    };
  }
}
