import { escapeHtml as escape } from '../util/html.js';
import type { PolicyName, SimulationResult } from './simulate.js';

const COLOURS: Record<PolicyName, string> = {
  thompson: '#1b6ac9',
  greedy: '#d9822b',
  uniform: '#8a8a8a',
  none: '#b83232',
  oracle: '#2e8b57',
};

const fmt = (x: number, digits = 0): string =>
  x.toLocaleString('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The regret curves as an inline SVG: cumulative regret against impressions, one line per policy. */
function regretChart(r: SimulationResult): string {
  const W = 760;
  const H = 360;
  const pad = { left: 70, right: 20, top: 20, bottom: 40 };
  const names = Object.keys(r.policies) as PolicyName[];
  const top = Math.max(1, ...names.flatMap((n) => r.policies[n]!.regret));
  const x = (t: number): number => pad.left + ((W - pad.left - pad.right) * t) / r.impressions;
  const y = (v: number): number => H - pad.bottom - ((H - pad.top - pad.bottom) * v) / top;
  const lines = names.map((n) => {
    const pts = r.policies[n]!.regret.map((v, j) => `${x(r.checkpoints[j]).toFixed(1)},${y(v).toFixed(1)}`);
    return `<polyline data-policy="${n}" fill="none" stroke="${COLOURS[n]}" stroke-width="2" points="${x(0)},${y(0)} ${pts.join(' ')}"/>`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map(
    (f) =>
      `<text x="${pad.left - 8}" y="${y(top * f) + 4}" text-anchor="end">${fmt(top * f)}</text>` +
      `<line x1="${pad.left}" x2="${W - pad.right}" y1="${y(top * f)}" y2="${y(top * f)}" stroke="#e3e3e3"/>` +
      `<text x="${x(r.impressions * f)}" y="${H - pad.bottom + 18}" text-anchor="middle">${fmt(r.impressions * f)}</text>`,
  );
  const legend = names.map(
    (n, j) =>
      `<rect x="${pad.left + 10}" y="${pad.top + 4 + j * 18}" width="12" height="12" fill="${COLOURS[n]}"/><text x="${pad.left + 28}" y="${pad.top + 14 + j * 18}">${n}</text>`,
  );
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="cumulative regret against the oracle">
${ticks.join('\n')}
${lines.join('\n')}
${legend.join('\n')}
<text x="${(W + pad.left) / 2}" y="${H - 6}" text-anchor="middle">impressions</text>
<text transform="translate(14 ${H / 2}) rotate(-90)" text-anchor="middle">cumulative regret (net revenue)</text>
</svg>`;
}

/** A self-contained HTML page: the policies' table, the regret curves, and what is best per segment. */
export function simulationReport(r: SimulationResult, title: string): string {
  const names = Object.keys(r.policies) as PolicyName[];
  const oracle = r.policies.oracle;
  const rows = names.map((n) => {
    const p = r.policies[n]!;
    const share = oracle && oracle.lastReward > 0 ? `${fmt((100 * p.lastReward) / oracle.lastReward, 1)}%` : '-';
    return `<tr><td>${n}</td><td>${fmt(p.conversions)}</td><td>${fmt(p.netRevenue, 2)}</td><td>${fmt(p.reward, 2)}</td><td>${share}</td><td>${fmt(p.regret[p.regret.length - 1] ?? 0, 2)}</td></tr>`;
  });
  const segments = Object.entries(r.segments).map(
    ([key, s]) =>
      `<tr><td>${escape(key)}</td><td>${escape(s.label)}</td><td>${fmt(s.shoppers)}</td><td>${escape(s.best)}</td></tr>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 820px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }
td:first-child, th:first-child, td:nth-child(2) { text-align: left; }
svg text { font-size: 12px; fill: #444; }
</style></head><body>
<h1>${escape(title)}</h1>
<p>${fmt(r.impressions)} impressions, seed ${r.seed}; every policy saw the same shoppers in the same order with the same random outcomes.
Expected net revenue is the response model's mean for the offer shown (no outcome noise); regret is against the oracle, which knows the best offer per segment in advance.</p>
<table id="policies"><thead><tr><th>policy</th><th>orders</th><th>net revenue</th><th>expected net revenue</th><th>last 20% vs oracle</th><th>regret</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>
<h2>Cumulative regret</h2>
${regretChart(r)}
<h2>Segments</h2>
<table id="segments"><thead><tr><th>segment</th><th>label</th><th>shoppers</th><th>best offer</th></tr></thead>
<tbody>${segments.join('\n')}</tbody></table>
</body></html>
`;
}
