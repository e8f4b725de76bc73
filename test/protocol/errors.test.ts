import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { reportFor } from '../../src/cli/errors.js';
import { DataError } from '../../src/data/errors.js';
import { ERRORS, errorBody, httpStatus, VitrineError, WIRE_ERROR_CODES } from '../../src/protocol/errors.js';
import { repoRoot } from '../helpers/paths.js';

describe('the error catalogue', () => {
  it('is the table docs/protocol.md gives: every code once, with its HTTP status, exit code and wire use', () => {
    const doc = readFileSync(join(repoRoot, 'docs', 'protocol.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| (\d+) \| (yes|no \(CLI\)) \|/gm)].map((m) => [
      m[1],
      Number(m[2]),
      Number(m[3]),
      m[4] === 'yes',
    ]);
    const wire = new Set<string>(WIRE_ERROR_CODES);
    expect(rows).toEqual(Object.entries(ERRORS).map(([code, e]) => [code, e.status, e.exit, wire.has(code)]));
  });

  it('gives every wire code an HTTP status line and a summary, and keeps internal details off the wire', () => {
    for (const code of WIRE_ERROR_CODES) {
      expect(httpStatus(code)).toMatch(/^[45]\d\d [A-Z]/);
      expect(ERRORS[code].summary.length).toBeGreaterThan(10);
    }
    expect([
      httpStatus('ok'),
      httpStatus('too_many_in_flight'),
      httpStatus('overloaded'),
      httpStatus('unavailable'),
    ]).toEqual(['200 OK', '429 Too Many Requests', '503 Service Unavailable', '503 Service Unavailable']);
    expect(errorBody(new VitrineError('invalid_field', 'k: must be between 1 and 200', 'k'))).toEqual({
      code: 'invalid_field',
      message: 'k: must be between 1 and 200',
      field: 'k',
    });
    // A bug's message (paths, stack) stays in the server's log; a CLI-only code is no wire answer either.
    expect(errorBody(new RangeError('index 7 out of range in /srv/vitrine/x.ts'))).toEqual({
      code: 'internal',
      message: ERRORS.internal.summary,
    });
    expect(errorBody(new VitrineError('conflict', 'out.jsonl exists')).code).toBe('internal');
  });

  it('exits 2 for bad input of every kind, 130 when interrupted, and 1 with a different message for an internal fault', () => {
    const fsError = Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT', path: '/no/such' });
    const cases: [unknown, number, RegExp][] = [
      [new VitrineError('invalid_argument', '--k: expected an integer'), 2, /^vitrine: --k: expected an integer$/],
      [new VitrineError('conflict', 'out.jsonl exists'), 2, /^vitrine: out.jsonl exists$/],
      [
        new DataError('shop/events.csv', 12, 'type', 'unknown event type "like"'),
        2,
        /^vitrine: data error: shop\/events.csv:12: field "type"/,
      ],
      [fsError, 2, /^vitrine: \/no\/such: no such file or directory$/],
      [new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"), 2, /^$/],
      [new VitrineError('interrupted', 'stopped after 64 of 100 users'), 130, /stopped after 64/],
      [new VitrineError('unavailable', 'Redis at 127.0.0.1:6390 does not answer'), 1, /^vitrine: Redis/],
      [
        new RangeError('offset is out of bounds'),
        1,
        /^vitrine: internal error \(a bug in Vitrine, not in what you gave it[^]*RangeError: offset is out of bounds/,
      ],
      [new VitrineError('internal', 'an invariant broke'), 1, /^vitrine: internal error/],
    ];
    for (const [err, exit, message] of cases) {
      const r = reportFor(err);
      expect([r.exit, r.message], String(err)).toEqual([exit, expect.stringMatching(message)]);
    }
  });
});
