import { join } from 'node:path';
import { resolveBundleVersion } from '../bundle/read.js';
import { ModelPool, type PoolOptions } from './pool.js';

/**
 * The bundle versions experiment variants serve, each from its own worker pool beside the main one.
 * `sync` starts the versions newly named and closes those no running experiment names any more; a
 * version that is also the main one is served by the main pool.
 */
export class VariantPools {
  private readonly pools = new Map<string, ModelPool>();

  constructor(
    private readonly bundleDir: string,
    private readonly options: () => PoolOptions,
  ) {}

  get(version: string): ModelPool | undefined {
    return this.pools.get(version);
  }

  get versions(): string[] {
    return [...this.pools.keys()];
  }

  /** Starts what is missing (all of it warm before returning), then closes what is no longer named. */
  async sync(wanted: ReadonlySet<string>, mainVersion: string | undefined): Promise<void> {
    const started: [string, ModelPool][] = [];
    try {
      for (const v of wanted)
        if (v !== mainVersion && !this.pools.has(v))
          started.push([v, await ModelPool.start(resolveBundleVersion(join(this.bundleDir, v)), this.options())]);
    } catch (e) {
      // All or nothing: a version that fails to load leaves the pools as they were.
      await Promise.all(started.map(([, p]) => p.close()));
      throw e;
    }
    for (const [v, p] of started) this.pools.set(v, p);
    const gone = [...this.pools].filter(([v]) => !wanted.has(v) || v === mainVersion);
    for (const [v] of gone) this.pools.delete(v);
    await Promise.all(gone.map(([, p]) => p.close()));
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.close()));
  }
}
