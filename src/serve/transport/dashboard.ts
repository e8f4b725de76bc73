import { dashboardPage } from '../dashboard/page.js';
import { type AdminDeps, adminGet, unauthorized } from './admin.js';
import type { UWS } from './uws.js';

/**
 * GET /dashboard: the page, behind the admin token. A browser cannot add a bearer header to a page
 * it navigates to, so the page also takes the token as the password of HTTP Basic authentication
 * (any user name): the browser asks for it once and resends it with the page's own data requests.
 */
export function registerDashboard(
  app: UWS.TemplatedApp,
  d: AdminDeps,
  data: () => Promise<unknown>,
  refreshMs: number,
): void {
  let page: string | undefined;
  app.get('/dashboard', (res, req) => {
    const refused = unauthorized(d.config, req.getHeader('authorization'), true);
    res.cork(() => {
      if (refused) {
        res.writeStatus('401 Unauthorized').writeHeader('content-type', 'text/plain; charset=utf-8');
        // Only a server with an admin token can let anyone in: without one, no prompt.
        if (d.config.adminToken) res.writeHeader('www-authenticate', 'Basic realm="Vitrine", charset="UTF-8"');
        res.end(`${refused.error.message}\nIn a browser: any user name, the admin token as the password.\n`);
        return;
      }
      page ??= dashboardPage(refreshMs);
      res
        .writeHeader('content-type', 'text/html; charset=utf-8')
        .writeHeader('cache-control', 'no-store')
        .writeHeader('x-content-type-options', 'nosniff')
        .writeHeader(
          'content-security-policy',
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'",
        )
        .end(page);
    });
  });
  adminGet(app, d, '/admin/dashboard/data', data, true);
}
