/**
 * The server's own latency breakdown (`vitrine_request_stage_seconds` in /metrics) over one phase of
 * a benchmark: the histograms scraped before and after, subtracted, per stage: requests, mean, and
 * the p50/p99 bucket bounds (the upper edge of the bucket the percentile falls in).
 */
interface Scrape {
  buckets: Map<string, [number, number][]>;
  sum: Map<string, number>;
}

async function scrape(port: number, call: string): Promise<Scrape> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const buckets = new Map<string, [number, number][]>();
  const sum = new Map<string, number>();
  const line = new RegExp(
    `^vitrine_request_stage_seconds_(bucket|sum)\\{(?:le="([^"]+)",)?call="${call}",stage="(\\w+)"(?:,le="([^"]+)")?\\} ([0-9.e+-]+)$`,
  );
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (!m) continue;
    const stage = m[3];
    if (m[1] === 'sum') sum.set(stage, Number(m[5]));
    else {
      const le = m[2] ?? m[4];
      const list = buckets.get(stage) ?? [];
      list.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(m[5])]);
      buckets.set(stage, list);
    }
  }
  return { buckets, sum };
}

export interface StageFigures {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

/** Runs `during`, and returns each stage's figures for the requests of `call` it served. */
export async function stageBreakdown<T>(
  port: number,
  call: string,
  during: () => Promise<T>,
): Promise<{ value: T; stages: Record<string, StageFigures> }> {
  const before = await scrape(port, call);
  const value = await during();
  const after = await scrape(port, call);
  const stages: Record<string, StageFigures> = {};
  for (const [stage, list] of after.buckets) {
    const prev = new Map(before.buckets.get(stage) ?? []);
    const cum = list.map(([le, c]) => [le, c - (prev.get(le) ?? 0)] as [number, number]);
    const count = cum[cum.length - 1][1];
    if (count === 0) continue;
    const at = (q: number): number => (cum.find(([, c]) => c >= q * count)?.[0] ?? Number.POSITIVE_INFINITY) * 1000;
    const total = (after.sum.get(stage) ?? 0) - (before.sum.get(stage) ?? 0);
    stages[stage] = { count, meanMs: Math.round((total / count) * 1e6) / 1000, p50Ms: at(0.5), p99Ms: at(0.99) };
  }
  return { value, stages };
}
