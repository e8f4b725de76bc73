import { VitrineError } from '../../protocol/errors.js';
import { createServer, type Server } from 'node:http';
import type { ServerMetrics } from '../metrics.js';
import type { UWS } from './uws.js';

export interface ProbeState {
  ready: boolean;
  bundle: string | null;
  draining: boolean;
}

/** The status and JSON body of /healthz and /readyz, whichever listener asked. */
function probeAnswer(path: string, state: () => ProbeState): { status: number; body: object } | undefined {
  if (path === '/healthz') return { status: 200, body: { status: 'ok' } };
  if (path === '/readyz') {
    const s = state();
    return { status: s.ready ? 200 : 503, body: s };
  }
  return undefined;
}

const STATUS: Record<number, string> = { 200: '200 OK', 503: '503 Service Unavailable' };

/**
 * Health, readiness and metrics on the main port. GET answers with a JSON body, HEAD (what some load
 * balancers send) with the same status.
 */
export function registerProbes(
  app: UWS.TemplatedApp,
  state: () => ProbeState,
  metrics: ServerMetrics,
  refreshGauges: () => void,
): void {
  for (const path of ['/healthz', '/readyz']) {
    const respond = (res: UWS.HttpResponse, head: boolean): void => {
      const { status, body } = probeAnswer(path, state)!;
      res.writeStatus(STATUS[status]).writeHeader('content-type', 'application/json');
      // No length: this uWS build's endWithoutBody(length) leaves the response open.
      if (head) res.endWithoutBody();
      else res.end(JSON.stringify(body));
    };
    app.get(path, (res) => respond(res, false));
    app.head(path, (res) => respond(res, true));
  }
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    refreshGauges();
    void metrics.text().then((text) => {
      if (!aborted) res.cork(() => res.writeHeader('content-type', metrics.registry.contentType).end(text));
    });
  });
}

/**
 * The same probes and metrics on a port of their own, served by Node's HTTP stack: it answers what
 * uWS on the main port does not (HTTP/1.0 and requests without a Host header, which is what HAProxy's
 * default health check sends). Resolves with the port it listens on.
 */
export function startProbeListener(
  host: string,
  port: number,
  state: () => ProbeState,
  metrics: ServerMetrics,
  refreshGauges: () => void,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head && req.method !== 'OPTIONS') {
      res
        .writeHead(405, { 'content-type': 'application/json', allow: 'GET, HEAD' })
        .end(JSON.stringify({ error: { code: 'unknown_call', message: 'probes answer GET and HEAD' } }));
      return;
    }
    if (path === '/metrics') {
      refreshGauges();
      void metrics
        .text()
        .then((text) =>
          res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(head ? undefined : text),
        );
      return;
    }
    // OPTIONS * or / (HAProxy's default check) is a liveness question too.
    const answer =
      probeAnswer(path, state) ??
      (req.method === 'OPTIONS' || path === '/' ? probeAnswer('/healthz', state) : undefined);
    if (!answer) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          error: {
            code: 'unknown_call',
            message: `no such probe: ${path.slice(0, 64)} (GET /healthz, /readyz or /metrics)`,
          },
        }),
      );
      return;
    }
    res
      .writeHead(answer.status, { 'content-type': 'application/json' })
      .end(head ? undefined : JSON.stringify(answer.body));
  });
  // Probes are small; a client that trickles its request holds no socket for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', (e) =>
      reject(
        new VitrineError(
          'invalid_argument',
          `cannot listen on ${host}:${port} for probes (${e.message}; see --probe-port)`,
        ),
      ),
    );
    server.listen(port, host, () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : port });
    });
  });
}
