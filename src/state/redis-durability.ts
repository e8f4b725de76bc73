import type { Cluster, Redis } from 'ioredis';
import type { Durability } from './store.js';

async function persistence(node: Redis): Promise<{ appendonly: string; appendfsync: string }> {
  const get = async (name: string): Promise<string> => {
    const reply = (await node.config('GET', name)) as string[];
    return reply[1] ?? 'unknown';
  };
  return { appendonly: await get('appendonly'), appendfsync: await get('appendfsync') };
}

const RANK = { 'machine-crash': 3, 'process-crash': 2, none: 1, unknown: 0 } as const;

/**
 * What an acknowledged event survives, from Redis's persistence settings. Redis writes its AOF buffer
 * to the file before it answers a write, so with `appendonly yes` an acknowledged event survives a
 * crash of the Redis process; `appendfsync always` also fsyncs before answering (it survives the
 * machine), `everysec` fsyncs once a second (a machine crash may lose the last second). Without the
 * AOF, a Redis restart loses what came after its last snapshot. CONFIG may be disabled (managed Redis):
 * then the guarantee is `unknown`. A cluster is as durable as its weakest master.
 */
export async function guaranteeOf(client: Redis | Cluster, cluster: boolean): Promise<Durability> {
  const nodes = cluster ? (client as Cluster).nodes('master') : [client as Redis];
  let worst: Durability | undefined;
  for (const node of nodes) {
    let d: Durability;
    try {
      const p = await persistence(node);
      const detail = `appendonly ${p.appendonly}, appendfsync ${p.appendfsync}`;
      if (p.appendonly !== 'yes')
        d = {
          backend: 'redis',
          guarantee: 'none',
          detail: `${detail}: a Redis restart loses what came after its last snapshot`,
        };
      else if (p.appendfsync === 'always') d = { backend: 'redis', guarantee: 'machine-crash', detail };
      else
        d = {
          backend: 'redis',
          guarantee: 'process-crash',
          detail: `${detail}: a machine crash may lose the last ${p.appendfsync === 'everysec' ? 'second' : '~30 s'}`,
        };
    } catch (e) {
      d = {
        backend: 'redis',
        guarantee: 'unknown',
        detail: `CONFIG GET is not allowed here (${(e as Error).message.split('\n')[0]})`,
      };
    }
    if (!worst || RANK[d.guarantee] < RANK[worst.guarantee]) worst = d;
  }
  return worst ?? { backend: 'redis', guarantee: 'unknown', detail: 'no master answered' };
}
