import type { Manifest } from '../../bundle/manifest.js';
import type { ExperimentReport } from '../../experiments/report.js';
import { segmentKeyOf } from '../../promotions/decide.js';
import type { ArmPosterior, PromotionDesk } from '../promotions.js';
import type { ExperimentDesk } from '../experiments.js';
import type { TrafficSeries, TrafficSampler } from './traffic.js';

/** Everything the dashboard draws, in one JSON document (GET /admin/dashboard/data). */
export interface DashboardData {
  generatedAt: string;
  bundle: {
    version: string;
    createdAt: string;
    data: { format: string; events: number; users: number; items: number };
    checks: Record<string, number | string>;
    /** The quality protocol's figures when the bundle was evaluated (`vitrine train` with evaluation). */
    evaluation: {
      models: { name: string; ndcg10: number | null; recall10: number | null }[];
      twoStageVsEase: number | null;
      rankerAuc: number | null;
    } | null;
  } | null;
  traffic: TrafficSeries;
  experiments: ExperimentReport[];
  /** The promotion bandit per segment; null without a promotion catalogue. */
  bandit: { segment: string; label: string; arms: ArmPosterior[] }[] | null;
  segments: { id: string; label: string; size: number }[];
}

export interface DashboardDeps {
  manifest: () => Manifest | undefined;
  traffic: TrafficSampler;
  experiments: ExperimentDesk;
  promotions: PromotionDesk;
}

const numberOr = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The quality figures from a manifest's evaluation report, read defensively (older bundles lack some). */
function evaluation(m: Manifest): NonNullable<DashboardData['bundle']>['evaluation'] {
  const r = m.metrics as
    | { models?: Record<string, Record<string, unknown>>; twoStageVsEase?: unknown; ranker?: { auc?: unknown } }
    | undefined;
  if (!r?.models) return null;
  return {
    models: Object.entries(r.models).map(([name, x]) => ({
      name,
      ndcg10: numberOr(x['ndcg@10']),
      recall10: numberOr(x['recall@10']),
    })),
    twoStageVsEase: numberOr(r.twoStageVsEase),
    rankerAuc: numberOr(r.ranker?.auc),
  };
}

/** The segments the bundle learned (labels and sizes), and `new` for shoppers without history. */
function segmentsOf(m: Manifest | undefined): DashboardData['segments'] {
  const s = m?.parameters.segments as { labels?: unknown; sizes?: unknown } | undefined;
  const labels = Array.isArray(s?.labels) ? (s.labels as unknown[]).map(String) : [];
  const sizes = Array.isArray(s?.sizes) ? (s.sizes as unknown[]).map((x) => Number(x) || 0) : [];
  return labels.map((label, j) => ({ id: segmentKeyOf(j), label, size: sizes[j] ?? 0 }));
}

export async function dashboardData(d: DashboardDeps): Promise<DashboardData> {
  const m = d.manifest();
  const segments = segmentsOf(m);
  const [experiments, bandit] = await Promise.all([
    d.experiments.report(),
    d.promotions.posteriors([
      ...segments.map((s) => ({ key: s.id, label: s.label })),
      { key: segmentKeyOf(-1), label: 'new shoppers (no history)' },
    ]),
  ]);
  return {
    generatedAt: new Date().toISOString(),
    bundle: m
      ? {
          version: m.version,
          createdAt: m.createdAt,
          data: { format: m.data.format, events: m.data.events, users: m.data.users, items: m.data.items },
          checks: m.checks,
          evaluation: evaluation(m),
        }
      : null,
    traffic: d.traffic.series(),
    experiments,
    bandit: bandit ?? null,
    segments,
  };
}
