import { join } from 'node:path';
import { resolveBundleVersion } from '../bundle/read.js';
import { ModelPool } from './pool.js';
import type { PoolOptions } from './pool-options.js';

/** Pools started for a reload, not yet serving. */
export interface PoolPlan {
  wanted: ReadonlySet<string>;
  mainVersion: string | undefined;
  started: [string, ModelPool][];
}

/**
 * The bundle versions experiment variants serve, each from its own worker pool beside the main one.
 * A reload prepares the versions newly named, then commits them (closing those no running experiment
 * names any more); a version that is also the main one is served by the main pool.
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

  /**
   * Starts the versions `wanted` names that are not running (all warm before it resolves), without
   * serving them yet: a reload commits them with everything else, or abandons them. If one fails
   * to start, those started are closed and the pools are as they were.
   */
  async prepare(wanted: ReadonlySet<string>, mainVersion: string | undefined): Promise<PoolPlan> {
    const started: [string, ModelPool][] = [];
    try {
      for (const v of wanted)
        if (v !== mainVersion && !this.pools.has(v))
          started.push([v, await ModelPool.start(resolveBundleVersion(join(this.bundleDir, v)), this.options())]);
    } catch (e) {
      await Promise.all(started.map(([, p]) => p.close()));
      throw e;
    }
    return { wanted, mainVersion, started };
  }

  /** Serves what `plan` started and closes what it no longer names; resolves once those are closed. */
  async commit(plan: PoolPlan): Promise<void> {
    for (const [v, p] of plan.started) this.pools.set(v, p);
    const gone = [...this.pools].filter(([v]) => !plan.wanted.has(v) || v === plan.mainVersion);
    for (const [v] of gone) this.pools.delete(v);
    await Promise.all(gone.map(([, p]) => p.close()));
  }

  /** Closes what `plan` started, serving none of it (a reload given up). */
  async discard(plan: PoolPlan): Promise<void> {
    await Promise.all(plan.started.map(([, p]) => p.close()));
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.close()));
  }
}
