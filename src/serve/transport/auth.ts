import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Compares two secrets in time that does not depend on where they differ (or on their lengths). */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header (the scheme in any case, as RFC 7235 has it). */
export function bearerToken(header: string): string | undefined {
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

/** Whether a request carries `token`, as a bearer header or (WebSocket upgrades) `?token=`. */
export function tokenMatches(header: string | undefined, query: string | undefined, token: string): boolean {
  // uWS hands undefined for an absent query parameter; anything thrown in its callbacks ends the process.
  const bearer = bearerToken(header ?? '');
  const q = query ?? '';
  // Both compared, always: which one is present should not show in the time taken either.
  const viaHeader = sameSecret(bearer ?? '', token) && bearer !== undefined;
  const viaQuery = sameSecret(q, token) && q !== '';
  return viaHeader || viaQuery;
}

/** The password of an `Authorization: Basic <base64(user:password)>` header (what a browser sends after its login prompt). */
export function basicPassword(header: string): string | undefined {
  const m = /^\s*basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/** Whether a request carries the admin token as a bearer header or as a Basic password (any user name). */
export function adminTokenMatches(header: string | undefined, token: string): boolean {
  const basic = basicPassword(header ?? '');
  const viaBasic = sameSecret(basic ?? '', token) && basic !== undefined;
  return tokenMatches(header, '', token) || viaBasic;
}
