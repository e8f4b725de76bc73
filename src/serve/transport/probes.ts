import type { ServerMetrics } from '../metrics.js';
import type { UWS } from './uws.js';

export interface ProbeState {
  ready: boolean;
  bundle: string | null;
  draining: boolean;
}

/**
 * Health, readiness and metrics. GET answers with a JSON body, HEAD (what some load balancers send)
 * with the same status.
 */
export function registerProbes(
  app: UWS.TemplatedApp,
  state: () => ProbeState,
  metrics: ServerMetrics,
  refreshGauges: () => void,
): void {
  const probe = (path: string, answer: () => { status: string; body: object }): void => {
    const respond = (res: UWS.HttpResponse, head: boolean): void => {
      const { status, body } = answer();
      res.writeStatus(status).writeHeader('content-type', 'application/json');
      // No length: this uWS build's endWithoutBody(length) leaves the response open.
      if (head) res.endWithoutBody();
      else res.end(JSON.stringify(body));
    };
    app.get(path, (res) => respond(res, false));
    app.head(path, (res) => respond(res, true));
  };
  probe('/healthz', () => ({ status: '200 OK', body: { status: 'ok' } }));
  probe('/readyz', () => {
    const s = state();
    return { status: s.ready ? '200 OK' : '503 Service Unavailable', body: s };
  });
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    refreshGauges();
    void metrics.registry.metrics().then((text) => {
      if (!aborted) res.cork(() => res.writeHeader('content-type', metrics.registry.contentType).end(text));
    });
  });
}
