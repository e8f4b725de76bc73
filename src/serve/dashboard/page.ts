import { uplotAssets } from '../../util/html.js';
import { DASHBOARD_SCRIPT } from './script.js';

/**
 * The dashboard: one self-contained page (uPlot and the script inlined, nothing fetched from
 * elsewhere) that draws GET /admin/dashboard/data and refreshes it every `refreshMs`.
 */
export function dashboardPage(refreshMs: number): string {
  const { js, css } = uplotAssets();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vitrine dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${css}</style>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 980px; color: #222; padding: 0 1em; }
header { display: flex; justify-content: space-between; align-items: baseline; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 1.6em; }
h3 { margin: 1.2em 0 0.3em; font-size: 15px; }
table { border-collapse: collapse; margin: 0.6em 0; }
td, th { padding: 3px 9px; border-bottom: 1px solid #eee; text-align: right; vertical-align: middle; }
td:first-child, th:first-child { text-align: left; }
.note, #updated, #traffic-note { color: #666; font-size: 13px; }
.srm-bad { color: #b83232; font-weight: 600; }
.srm-ok { color: #2e8b57; }
.lift { font-size: 12px; display: block; }
.lift.significant { font-weight: 600; }
svg.interval, svg.bar { display: block; }
.chart { margin: 0.5em 0 1em; }
button { font: inherit; padding: 2px 10px; }
</style></head>
<body data-loaded="0">
<header><h1>Vitrine</h1><div><span id="updated">Loading…</span> <button id="pause" type="button">Pause</button></div></header>
<h2>Traffic</h2>
<p id="traffic-note"></p>
<div id="chart-rps" class="chart"></div>
<div id="chart-latency" class="chart"></div>
<div id="chart-errors" class="chart"></div>
<h2>Experiments</h2>
<div id="experiments-body"></div>
<h2>Promotion bandit</h2>
<p class="note">Thompson sampling's belief about each offer's conversion rate in each segment, from the counts every replica shares.</p>
<div id="bandit-body"></div>
<h2>Bundle and segments</h2>
<div id="bundle-body"></div>
<script>${js}</script>
<script>var REFRESH_MS = ${Math.max(250, Math.round(refreshMs))};${DASHBOARD_SCRIPT}</script>
</body></html>
`;
}
