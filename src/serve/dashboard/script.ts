/**
 * The dashboard's script, run in the browser: it fetches /admin/dashboard/data (the browser resends
 * the page's Basic credentials) every few seconds and draws it: uPlot for the traffic over time,
 * SVG intervals for experiments and the bandit. Plain ES2017 in a string, so the page needs no build
 * step; written without template literals so that it sits inside this module's own.
 */
export const DASHBOARD_SCRIPT = String.raw`
'use strict';
var COLOURS = ['#1b6ac9', '#d9822b', '#2e8b57', '#b83232', '#7b4bb3', '#8a6d3b', '#17a2b8', '#555'];
var charts = {};
var state = { paused: false };

function el(tag, attrs, children) {
  var e = document.createElement(tag);
  for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
  (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
  return e;
}
function svgEl(tag, attrs) {
  var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (var k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}
function fmt(x, digits) {
  if (x === null || x === undefined || !isFinite(x)) return '-';
  return Number(x).toLocaleString('en-GB', { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
}
function pct(x, digits) { return x === null || x === undefined || !isFinite(x) ? '-' : (100 * x).toFixed(digits === undefined ? 1 : digits) + '%'; }
function table(id, header, rows) {
  var head = el('tr', {}, header.map(function (h) { return el('th', {}, [h]); }));
  var body = rows.map(function (r) {
    return el('tr', {}, r.map(function (c) { return c instanceof Node ? el('td', {}, [c]) : el('td', {}, [String(c)]); }));
  });
  return el('table', { id: id }, [el('thead', {}, [head]), el('tbody', {}, body)]);
}

/** A horizontal interval [lo, hi] with its estimate, on a shared scale [min, max], zero marked. */
function intervalSvg(lo, est, hi, min, max, colour) {
  var W = 220, H = 18;
  var x = function (v) { return 6 + (W - 12) * (Math.max(min, Math.min(max, v)) - min) / ((max - min) || 1); };
  var s = svgEl('svg', { width: W, height: H, class: 'interval', 'data-lo': lo, 'data-hi': hi });
  if (min < 0 && max > 0) s.appendChild(svgEl('line', { x1: x(0), x2: x(0), y1: 0, y2: H, stroke: '#999', 'stroke-dasharray': '2,2' }));
  if (isFinite(lo) && isFinite(hi)) s.appendChild(svgEl('line', { x1: x(lo), x2: x(hi), y1: H / 2, y2: H / 2, stroke: colour, 'stroke-width': 3 }));
  s.appendChild(svgEl('circle', { cx: x(est), cy: H / 2, r: 4, fill: colour }));
  return s;
}

function lineChart(id, title, t, series, unit) {
  var holder = document.getElementById(id);
  var names = Object.keys(series);
  var key = names.join('|');
  var data = [t].concat(names.map(function (n) { return series[n]; }));
  var existing = charts[id];
  if (existing && existing.key === key) { existing.plot.setData(data); return; }
  if (existing) existing.plot.destroy();
  holder.innerHTML = '';
  var opts = {
    title: title, width: Math.min(900, holder.clientWidth || 900), height: 220,
    scales: { x: { time: true } },
    axes: [{}, { label: unit }],
    series: [{}].concat(names.map(function (n, j) { return { label: n, stroke: COLOURS[j % COLOURS.length], width: 2, spanGaps: true }; })),
  };
  charts[id] = { key: key, plot: new uPlot(opts, data, holder) };
}

function drawTraffic(tr) {
  var rps = {}, lat = {}, errs = {};
  Object.keys(tr.calls).forEach(function (c) {
    rps[c] = tr.calls[c].rps;
    lat[c + ' p50'] = tr.calls[c].p50;
    lat[c + ' p99'] = tr.calls[c].p99;
    errs[c] = tr.calls[c].errors;
  });
  document.getElementById('traffic-note').textContent = tr.t.length < 2
    ? 'Collecting: a point every ' + tr.intervalSeconds + ' s.'
    : tr.t.length + ' points, one every ' + tr.intervalSeconds + ' s, from the server\'s own /metrics.';
  lineChart('chart-rps', 'requests per second', tr.t, rps, 'req/s');
  lineChart('chart-latency', 'server-side latency (p50, p99)', tr.t, lat, 'ms');
  lineChart('chart-errors', 'errors per second', tr.t, errs, 'err/s');
}

function drawExperiments(list) {
  var box = document.getElementById('experiments-body');
  box.innerHTML = '';
  if (list.length === 0) { box.appendChild(el('p', {}, ['No experiments: start the server with --experiments FILE.'])); return; }
  list.forEach(function (x) {
    var srm = x.srm.mismatch
      ? el('p', { class: 'srm-bad' }, ['Sample ratio mismatch (p = ' + x.srm.pValue.toExponential(2) + '): the split is not what the weights say; do not read these results.'])
      : el('p', { class: 'srm-ok' }, ['Users split as weighted (SRM check p = ' + x.srm.pValue.toFixed(3) + ').']);
    var metrics = ['conversion', 'clicksPerUser', 'revenuePerUser'];
    var bounds = [0, 0];
    x.variants.forEach(function (v) { metrics.forEach(function (m) {
      var l = v.vsControl && v.vsControl[m];
      if (l && l.relLo !== null && isFinite(l.relLo)) { bounds[0] = Math.min(bounds[0], l.relLo); bounds[1] = Math.max(bounds[1], l.relHi); }
    }); });
    var rows = x.variants.map(function (v, j) {
      var cells = [v.name + (v.control ? ' (control)' : ''), fmt(v.users), fmt(v.exposures), pct(v.ctr, 2), pct(v.conversion, 2), fmt(v.revenuePerUser, 2)];
      metrics.forEach(function (m) {
        var l = v.vsControl && v.vsControl[m];
        if (v.control) cells.push('');
        else if (!l) cells.push('too few users, or no variation yet');
        else if (l.relative === null || l.relLo === null || l.relHi === null) cells.push('control at zero: ' + fmt(l.diff, 4) + ' [' + fmt(l.lo, 4) + ', ' + fmt(l.hi, 4) + ']');
        else {
          var span = el('span', { class: 'lift' + (l.significant ? ' significant' : '') }, [(l.relative >= 0 ? '+' : '') + pct(l.relative) + ' [' + pct(l.relLo) + ', ' + pct(l.relHi) + ']']);
          cells.push(el('div', {}, [intervalSvg(l.relLo, l.relative, l.relHi, bounds[0], bounds[1], COLOURS[j % COLOURS.length]), span]));
        }
      });
      return cells;
    });
    box.appendChild(el('section', { class: 'experiment', 'data-name': x.name }, [
      el('h3', {}, [x.name + ' (' + (x.active ? 'running' : 'stopped') + ', ' + pct(x.share, 0) + ' of shoppers, ' + x.calls.join(' + ') + ', outcomes within ' + x.windowHours + ' h)']),
      srm,
      table('experiment-' + x.name, ['variant', 'users', 'exposures', 'CTR', 'conversion', 'revenue / user', 'lift: conversion', 'lift: clicks / user', 'lift: revenue / user'], rows),
      el('p', { class: 'note' }, ['Lifts against the control with 95% intervals that stay valid however often this page is read: ' + x.method + '.']),
    ]));
  });
}

function drawBandit(bandit) {
  var box = document.getElementById('bandit-body');
  box.innerHTML = '';
  if (!bandit) { box.appendChild(el('p', {}, ['No promotion catalogue: start the server with --promotions FILE.'])); return; }
  bandit.forEach(function (s) {
    var top = Math.max.apply(null, s.arms.map(function (a) { return a.hi; }).concat([0.01]));
    var rows = s.arms.map(function (a, j) {
      return [a.label, fmt(a.decisions), fmt(a.conversions), el('div', {}, [intervalSvg(a.lo, a.rate, a.hi, 0, top, COLOURS[j % COLOURS.length]), el('span', {}, [pct(a.rate) + ' [' + pct(a.lo) + ', ' + pct(a.hi) + ']'])]), fmt(a.value, 2)];
    });
    box.appendChild(el('section', { class: 'segment', 'data-segment': s.segment }, [
      el('h3', {}, ['Segment ' + s.segment + ': ' + s.label]),
      table('bandit-' + s.segment, ['offer', 'decisions', 'orders', 'conversion rate (posterior, 95%)', 'net revenue / decision'], rows),
    ]));
  });
}

function drawBundle(d) {
  var box = document.getElementById('bundle-body');
  box.innerHTML = '';
  if (!d.bundle) { box.appendChild(el('p', {}, ['No bundle loaded yet.'])); return; }
  var b = d.bundle;
  box.appendChild(el('p', { id: 'bundle-version' }, ['Version ' + b.version + ', built ' + b.createdAt + ' from ' + fmt(b.data.events) + ' events of ' + fmt(b.data.users) + ' shoppers on ' + fmt(b.data.items) + ' items (' + b.data.format + ').']));
  var checks = Object.keys(b.checks).map(function (k) { return [k, typeof b.checks[k] === 'number' ? fmt(b.checks[k], 4) : b.checks[k]]; });
  box.appendChild(table('bundle-checks', ['build check', 'value'], checks));
  if (b.evaluation) {
    box.appendChild(table('bundle-evaluation', ['model', 'NDCG@10', 'Recall@10'], b.evaluation.models.map(function (m) { return [m.name, fmt(m.ndcg10, 4), fmt(m.recall10, 4)]; })));
    box.appendChild(el('p', {}, ['Two-stage NDCG@10 against EASE: ' + fmt(b.evaluation.twoStageVsEase, 2) + '×; ranker AUC ' + fmt(b.evaluation.rankerAuc, 3) + '.']));
  } else box.appendChild(el('p', { class: 'note' }, ['Not evaluated: train with evaluation (the default on a protocol split) to see its quality here.']));
  var max = Math.max.apply(null, d.segments.map(function (s) { return s.size; }).concat([1]));
  box.appendChild(table('segments', ['segment', 'shoppers', ''], d.segments.map(function (s, j) {
    var bar = svgEl('svg', { width: 200, height: 12, class: 'bar' });
    bar.appendChild(svgEl('rect', { x: 0, y: 0, height: 12, width: Math.max(1, 200 * s.size / max), fill: COLOURS[j % COLOURS.length] }));
    return [s.id + ': ' + s.label, fmt(s.size), bar];
  })));
}

function refresh() {
  if (state.paused) return Promise.resolve();
  return fetch('/admin/dashboard/data', { credentials: 'same-origin', cache: 'no-store' })
    .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then(function (body) {
      var d = body.result;
      drawBundle(d);
      drawTraffic(d.traffic);
      drawExperiments(d.experiments);
      drawBandit(d.bandit);
      document.getElementById('updated').textContent = 'Updated ' + new Date(d.generatedAt).toLocaleTimeString('en-GB');
      document.body.setAttribute('data-loaded', String(Number(document.body.getAttribute('data-loaded') || 0) + 1));
    })
    .catch(function (e) { document.getElementById('updated').textContent = 'Could not refresh: ' + e.message; });
}

document.getElementById('pause').addEventListener('click', function (e) {
  state.paused = !state.paused;
  e.target.textContent = state.paused ? 'Resume' : 'Pause';
});
refresh();
setInterval(refresh, REFRESH_MS);
`;
