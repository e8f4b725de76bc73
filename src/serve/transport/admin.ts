import { errorBody, VitrineError } from '../../protocol/errors.js';
import type { StateStore } from '../../state/store.js';
import type { ErrorReply } from '../../protocol/replies.js';
import type { ModelPool } from '../pool.js';
import { adminUser, exportShopper } from '../privacy.js';
import type { ServerConfig } from '../config/index.js';
import { elapsed } from '../clock.js';
import { fail } from '../dispatch.js';
import { adminTokenMatches, tokenMatches } from './auth.js';
import type { ExperimentReport } from '../../experiments/report.js';
import type { HttpExchange, HttpIo } from './http.js';
import type { UWS } from './uws.js';

export interface AdminDeps {
  config: ServerConfig;
  io: HttpIo;
  store: StateStore;
  pool: () => ModelPool | undefined;
  version: () => string | undefined;
  reload: (version?: string) => Promise<{ from: string; to: string }>;
  /** Why `version` cannot be reloaded, or undefined when it can be tried. */
  missingVersion: (version: string) => string | undefined;
  /** Every experiment's report, from the counters all replicas share. */
  experiments: () => Promise<ExperimentReport[]>;
}

/**
 * Admin calls, behind the admin token. Each body is a JSON object checked key by key: a misspelt key
 * is refused rather than read as "not given".
 */
export function registerAdmin(app: UWS.TemplatedApp, d: AdminDeps): void {
  adminRoute(app, d, '/admin/reload', ['version'], (ex, body) => {
    const v = body.version;
    if (v !== undefined && v !== null && typeof v !== 'string')
      return d.io.write(
        ex,
        fail(null, 'invalid_field', 'version: must be a string naming a version directory', 'version'),
      );
    const version = typeof v === 'string' ? v : undefined;
    // A version that is not there is the caller's mistake (400), not a failed reload (500).
    const missing = version === undefined ? undefined : d.missingVersion(version);
    if (missing) return d.io.write(ex, fail(null, 'invalid_field', `version: ${missing}`, 'version'));
    d.reload(version).then(
      (r) => d.io.write(ex, { id: null, result: r, bundle: d.version() ?? '', serverMs: elapsed(ex.t0) }),
      (e: unknown) =>
        d.io.write(
          ex,
          e instanceof VitrineError && e.code === 'shutting_down'
            ? fail(null, e.code, e.message)
            : // A catalogue or experiments file the admin edited and broke is their input to fix, not a fault of the server.
              e instanceof VitrineError && (e.code === 'data_error' || e.field === 'experiments')
              ? fail(
                  null,
                  'invalid_field',
                  `reload failed, still serving as before: ${e.message}`,
                  e.field === 'experiments' ? 'experiments' : 'promotions',
                )
              : fail(null, 'internal', `reload failed: ${(e as Error).message}`),
        ),
    );
  });
}

/**
 * The privacy calls: everything held about a shopper, erasing it, and the list of tombstones a
 * `vitrine train --forget` leaves out of the next bundle.
 */
export function registerPrivacy(app: UWS.TemplatedApp, d: AdminDeps): void {
  const answer = (ex: HttpExchange, work: () => Promise<unknown>): void => answerWith(d, ex, work);
  adminRoute(app, d, '/admin/export', ['user'], (ex, body) =>
    answer(ex, async () => exportShopper(adminUser(body.user), d.store, d.pool)),
  );
  adminRoute(app, d, '/admin/forget', ['user'], (ex, body) =>
    answer(ex, async () => {
      const user = adminUser(body.user);
      const removed = await d.store.forgetUser(user);
      return {
        forgotten: true,
        removed,
        bundleHistory:
          'not used from now on; leave the shopper out of the next bundle with vitrine train --forget <the JSON of GET /admin/forgotten>',
      };
    }),
  );
  adminGet(app, d, '/admin/forgotten', () => d.store.tombstones());
}

/** Experiments: each one's variants, their figures, lifts with always-valid intervals, and the SRM check. */
export function registerExperiments(app: UWS.TemplatedApp, d: AdminDeps): void {
  adminGet(app, d, '/admin/experiments', async () => ({ experiments: await d.experiments() }));
}

function answerWith(d: AdminDeps, ex: HttpExchange, work: () => Promise<unknown>): void {
  work().then(
    (result) => d.io.write(ex, { id: null, result, bundle: d.version() ?? '', serverMs: elapsed(ex.t0) }),
    (e: unknown) => d.io.write(ex, { id: null, error: errorBody(e) }),
  );
}

/** A GET admin route answering what `work` resolves with (`basic`: the dashboard's, see unauthorized). */
export function adminGet(
  app: UWS.TemplatedApp,
  d: AdminDeps,
  path: string,
  work: () => Promise<unknown>,
  basic = false,
): void {
  app.get(path, (res, req) => {
    const auth = req.getHeader('authorization');
    const ex: HttpExchange = { res, aborted: false, t0: performance.now() };
    res.onAborted(() => (ex.aborted = true));
    const refused = unauthorized(d.config, auth, basic);
    if (refused) return d.io.write(ex, refused);
    answerWith(d, ex, work);
  });
}

/**
 * The refusal for an admin call without the admin token (or with admin calls disabled), else
 * undefined. `basic` also takes the token as a Basic password, for the dashboard's pages only: a
 * browser resends Basic credentials by itself, to any request another site makes it send, so the
 * calls that change something take the bearer header alone.
 */
export function unauthorized(config: ServerConfig, auth: string, basic = false): ErrorReply | undefined {
  const token = config.adminToken;
  if (token && (basic ? adminTokenMatches(auth, token) : tokenMatches(auth, '', token))) return undefined;
  return fail(
    null,
    'unauthorized',
    token
      ? 'admin token required (Authorization: Bearer <token>)'
      : 'admin calls are disabled: start the server with an admin token',
  );
}

/** A POST admin route taking a JSON object of `fields`; `handle` gets the parsed body. */
function adminRoute(
  app: UWS.TemplatedApp,
  d: AdminDeps,
  path: string,
  fields: readonly string[],
  handle: (ex: HttpExchange, body: Record<string, unknown>) => void,
): void {
  app.post(path, (res, req) => {
    const auth = req.getHeader('authorization');
    d.io.readBody(res, req, undefined, (ex, raw) => {
      const refused = unauthorized(d.config, auth);
      if (refused) return d.io.write(ex, refused);
      let o: unknown;
      try {
        o = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : {};
      } catch {
        return d.io.write(ex, fail(null, 'bad_frame', 'the body is not valid JSON'));
      }
      if (o === null || typeof o !== 'object' || Array.isArray(o))
        return d.io.write(ex, fail(null, 'bad_request', `the body must be a JSON object with ${fields.join(', ')}`));
      const unknown = Object.keys(o).find((k) => !fields.includes(k));
      if (unknown !== undefined)
        return d.io.write(
          ex,
          fail(
            null,
            'invalid_field',
            `${unknown.slice(0, 64)}: is not a field of ${path} (${fields.join(', ')})`,
            unknown.slice(0, 64),
          ),
        );
      handle(ex, o as Record<string, unknown>);
    });
  });
}
