import { escapeHtml as escape, scriptJson, uplotAssets as uplot } from '../util/html.js';
import type { LoadRun } from './run.js';

export const REPORT_MARK = '<meta name="generator" content="vitrine loadtest">';

function table(header: string[], rows: (string | number)[][], id: string): string {
  return `<table id="${id}"><thead><tr>${header.map((h) => `<th>${escape(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escape(String(c))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** The charts, drawn by uPlot from the runs' data when the page loads. */
const CHARTS = `
const runs = JSON.parse(document.getElementById('data').textContent);
const width = Math.min(900, document.body.clientWidth - 20);
const colours = ['#1b6ac9', '#d9822b', '#2e8b57', '#b83232', '#7a4fb5'];
function chart(id, title, x, series, opts = {}) {
  const el = document.getElementById(id);
  new uPlot({ title, width, height: 280, scales: { x: { time: false }, ...(opts.scales || {}) },
    axes: [{ label: opts.xLabel || 'seconds', ...(opts.xValues ? { values: (u, splits) => splits.map(opts.xValues), incrs: [1] } : {}) },
      { label: opts.yLabel || 'ms' }],
    series: [{}, ...series.map((s, j) => ({ label: s.label, stroke: colours[j % colours.length], width: 2 }))] },
    [x, ...series.map((s) => s.values)], el);
}
runs.forEach((run, r) => {
  const t = run.result.timeline;
  const x = t.map((s) => s.t);
  const tag = runs.length > 1 ? ' (' + run.name + ')' : '';
  chart('latency-' + r, 'Latency over time' + tag + ' (requests scheduled in each second)', x,
    ['p50', 'p90', 'p99', 'max'].map((p) => ({ label: p, values: t.map((s) => s[p]) })));
  chart('throughput-' + r, 'Throughput and errors over time' + tag, x,
    [{ label: 'ok/s', values: t.map((s) => s.ok) }, { label: 'errors/s', values: t.map((s) => s.errors) }], { yLabel: 'per second' });
});
const d = runs[0].result.distribution;
chart('distribution', 'Latency distribution', d.map((p, j) => j), runs.map((run) => ({ label: run.name, values: run.result.distribution.map((p) => p[1]) })),
  { xLabel: 'percentile', xValues: (j) => (d[j] ? 'p' + d[j][0] : ''), scales: { y: { distr: 3 } } });
`;

/** One self-contained page: the inputs, per-call figures, and the charts, for one run or two side by side. */
export function loadReport(runs: LoadRun[], title: string): string {
  const { js, css } = uplot();
  const sections = runs.map((run, r) => {
    const res = run.result;
    const calls = Object.entries(res.byCall).map(([name, c]) => [
      name,
      c.count,
      c.ok,
      c.p50,
      c.p90,
      c.p99,
      c.p999,
      c.max,
      Object.entries(c.errors)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || '-',
    ]);
    const inputs = Object.entries(run.inputs).map(([k, v]) => [
      k,
      typeof v === 'object' ? JSON.stringify(v) : String(v),
    ]);
    return `<h2>${escape(run.name)}</h2>
${run.client.warning ? `<p class="warn">${escape(run.client.warning)}</p>` : ''}
<p>${res.mode} loop: ${res.offeredRate !== undefined ? `offered ${res.offeredRate}/s, ` : ''}achieved ${res.achievedRate}/s, goodput ${res.goodput}/s over ${res.seconds} s; the load generator used ${Math.round(run.client.cpuShare * 100)}% of a core.</p>
${table(['call', 'requests', 'ok', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors'], calls, `calls-${r}`)}
<div id="latency-${r}" class="chart"></div>
<div id="throughput-${r}" class="chart"></div>
<details><summary>inputs</summary>${table(['input', 'value'], inputs, `inputs-${r}`)}</details>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">${REPORT_MARK}<title>${escape(title)}</title>
<style>${css}
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 940px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { padding: 3px 9px; border-bottom: 1px solid #ddd; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.warn { background: #fff3cd; padding: 6px 10px; }
.chart { margin: 1.5em 0; }
</style></head><body>
<h1>${escape(title)}</h1>
<div id="distribution" class="chart"></div>
${sections.join('\n')}
<script id="data" type="application/json">${scriptJson(runs)}</script>
<script>${js}</script>
<script>${CHARTS}</script>
</body></html>
`;
}
