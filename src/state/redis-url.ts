import { VitrineError } from '../protocol/errors.js';

/** Where the Redis store connects: one server, or the seed nodes of a Redis Cluster. */
export interface RedisTarget {
  cluster: boolean;
  nodes: { host: string; port: number }[];
  db?: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** The URL without its password, for messages and logs. */
  display: string;
}

/**
 * `redis://[user:password@]host[:port][/db]`, `rediss://...` (TLS), or
 * `redis+cluster://host:port,host:port,...` (a Redis Cluster, keys hash-tagged per user).
 */
export function parseRedisUrl(url: string): RedisTarget {
  const m = /^(redis|rediss|redis\+cluster):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)(?:\/(\d+))?\/?$/.exec(url);
  const fail = (why: string): never => {
    throw new VitrineError(
      'invalid_argument',
      `--store ${url.replace(/:[^:@/]*@/, ':***@')}: ${why} (expected redis://host:port[/db], rediss://... or redis+cluster://host:port,host:port)`,
    );
  };
  if (!m) return fail('not a Redis URL');
  const [, scheme, user, password, hosts, db] = m;
  const nodes = hosts.split(',').map((h) => {
    const hm = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(h.trim());
    if (!hm) return fail(`"${h}" is not host:port`);
    const port = hm[2] === undefined ? 6379 : Number(hm[2]);
    if (!(port > 0 && port < 65536)) return fail(`port ${hm[2]} is out of range`);
    return { host: hm[1], port };
  });
  const cluster = scheme === 'redis+cluster';
  if (!cluster && nodes.length > 1) fail('several hosts are a cluster: use redis+cluster://');
  if (cluster && db !== undefined) fail('a Redis Cluster has no database numbers');
  const display = `${scheme}://${user ? `${user}${password !== undefined ? ':***' : ''}@` : ''}${hosts}${db !== undefined ? `/${db}` : ''}`;
  return {
    cluster,
    nodes,
    db: db === undefined ? undefined : Number(db),
    username: user ? decodeURIComponent(user) : undefined,
    password: password !== undefined ? decodeURIComponent(password) : undefined,
    tls: scheme === 'rediss',
    display,
  };
}
