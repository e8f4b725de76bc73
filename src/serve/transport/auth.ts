/** Whether a request carries `token`, as `Authorization: Bearer <token>` or (WebSocket upgrades) `?token=`. */
export function tokenMatches(header: string, query: string, token: string): boolean {
  return header === `Bearer ${token}` || query === token;
}
