import { type LoadPlan, type LoadResult, runLoad, type Traffic } from './engine.js';
import { findMax, type Slo } from './find-max.js';
import { openTarget, type TargetOptions } from './target.js';

/** One `vitrine loadtest` run as its JSON file holds it: what was asked, what came back, and the client's own load. */
export interface LoadRun {
  name: string;
  inputs: Record<string, unknown>;
  result: LoadResult;
  client: { cpuShare: number; warning?: string };
  findMax?: {
    slo: Slo;
    max: number;
    steps: { rate: number; met: boolean; missed?: string; achieved: number; p50: number; p99: number }[];
  };
}

export interface LoadTestOptions extends TargetOptions {
  name: string;
  rate?: number;
  depth?: number;
  seconds: number;
  warmupSeconds: number;
  traffic: Traffic;
  /** Step the rate up to the highest that meets this objective. */
  findMax?: { slo: Slo; start: number; maxRate: number; stepSeconds: number };
  onProgress?: (message: string) => void;
  inputs: Record<string, unknown>;
}

/** Above this share of a core, the load generator itself may be what limits the rate it achieves. */
const BUSY_CLIENT = 0.85;

export async function runLoadTest(o: LoadTestOptions): Promise<LoadRun> {
  const target = await openTarget(o);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    const plan = (rate: number | undefined, seconds: number, warmup: number): LoadPlan => ({
      rate,
      depth: o.depth,
      seconds,
      warmupSeconds: warmup,
      traffic: o.traffic,
    });
    let found: LoadRun['findMax'];
    let result: LoadResult;
    if (o.findMax) {
      const f = o.findMax;
      const out = await findMax((rate) => runLoad(target, plan(rate, f.stepSeconds, 1)), f.slo, {
        start: f.start,
        maxRate: f.maxRate,
        refine: 3,
        onStep: (s) =>
          o.onProgress?.(
            `${s.rate}/s: ${f.slo.percentile} ${s.result.overall[f.slo.percentile]} ms, ${s.met ? 'met' : `missed (${s.missed})`}`,
          ),
      });
      found = {
        slo: f.slo,
        max: out.max,
        steps: out.steps.map((s) => ({
          rate: s.rate,
          met: s.met,
          ...(s.missed !== undefined && { missed: s.missed }),
          achieved: s.result.achievedRate,
          p50: s.result.overall.p50,
          p99: s.result.overall.p99,
        })),
      };
      // The run the report draws: the highest rate that met the objective (else the first step).
      const best = out.steps.filter((s) => s.met).sort((a, b) => b.rate - a.rate)[0] ?? out.steps[0];
      result = best.result;
    } else result = await runLoad(target, plan(o.rate, o.seconds, o.warmupSeconds));
    const used = process.cpuUsage(cpu0);
    const cpuShare = (used.user + used.system) / 1000 / (performance.now() - t0);
    const warning =
      cpuShare > BUSY_CLIENT
        ? `the load generator used ${Math.round(cpuShare * 100)}% of a core: it, not the server, may be what limits these figures (run it on another machine, or with fewer connections)`
        : undefined;
    return {
      name: o.name,
      inputs: o.inputs,
      result,
      client: { cpuShare: Number(cpuShare.toFixed(3)), ...(warning && { warning }) },
      ...(found && { findMax: found }),
    };
  } finally {
    await target.close();
  }
}
