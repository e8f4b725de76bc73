import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { VitrineServer } from '../../src/serve/server.js';
import { launchBrowser } from '../helpers/browser.js';
import { httpCall } from '../helpers/client.js';
import { tempDir } from '../helpers/paths.js';
import { startTestServer } from '../helpers/server.js';

const bundle = inject('fixtureBundle');
const TOKEN = 'dash-secret';
/** Set to a path to keep the page's screenshot (docs/img/dashboard.png is made this way, with more traffic). */
const SCREENSHOT = process.env.VITRINE_DASHBOARD_SCREENSHOT;
const TRAFFIC_SECONDS = SCREENSHOT ? 40 : 5;

/** Shoppers browsing: recommendations, clicks and purchases, promotion decisions and orders, a few bad requests. */
async function shop(server: VitrineServer, seconds: number): Promise<void> {
  const until = Date.now() + seconds * 1000;
  for (let j = 0; Date.now() < until; j++) {
    const u = (j % 300) + 1;
    const user = `u${u}`;
    const r = await httpCall(server.port, 'recommend', { id: j, user, k: 10 });
    const items = (r.reply.result as { items: { id: string }[] }).items;
    if (j % 3 === 0) await httpCall(server.port, 'event', { id: j, user, item: items[0].id, type: 'click' });
    // Some shoppers buy, most do not: conversion varies within each variant.
    if (j % 7 === 0 && u % 3 === 0)
      await httpCall(server.port, 'event', { id: j, user, item: items[1].id, type: 'purchase', price: 25 });
    if (j % 4 === 0) {
      const p = await httpCall(server.port, 'promotion', { id: j, user });
      if (j % 8 === 0)
        await httpCall(server.port, 'event', { id: j, user, item: items[2].id, type: 'purchase', price: 40 });
      expect(p.reply.error).toBeUndefined();
    }
    if (j % 50 === 0) await httpCall(server.port, 'recommend', { id: j, user, k: -1 });
    if (j % 20 === 0) await new Promise((r) => setTimeout(r, 5));
  }
}

describe('the dashboard', () => {
  let server: VitrineServer;
  beforeAll(async () => {
    const dir = tempDir();
    const experiments = join(dir, 'experiments.json');
    writeFileSync(
      experiments,
      JSON.stringify({
        experiments: [
          {
            name: 'ranking',
            salt: 'd1',
            variants: [{ name: 'ranker' }, { name: 'popularity', settings: { ranking: 'popularity' } }],
          },
        ],
      }),
    );
    const promotions = join(dir, 'promotions.csv');
    writeFileSync(promotions, 'id,kind,value,label\nTEN,percent_off,10,10% off\nTWENTY,percent_off,20,20% off\n');
    server = await startTestServer(bundle, { clock: 'bundle', adminToken: TOKEN, experiments, promotions });
    await shop(server, TRAFFIC_SECONDS);
    // One more sampling interval, so that the last burst is on the charts.
    await new Promise((r) => setTimeout(r, 2200));
  }, 120_000);
  afterAll(() => server?.shutdown());

  it('asks a browser for the admin token, and refuses the page and its data without it', async () => {
    const page = await fetch(`http://127.0.0.1:${server.port}/dashboard`);
    expect(page.status).toBe(401);
    expect(page.headers.get('www-authenticate')).toMatch(/^Basic realm="Vitrine"/);
    const wrong = await fetch(`http://127.0.0.1:${server.port}/admin/dashboard/data`, {
      headers: { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
    // The password a browser keeps for the dashboard opens the dashboard only: another site could make
    // the browser send it with a POST that erases a shopper.
    const basic = `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`;
    expect(
      (await fetch(`http://127.0.0.1:${server.port}/admin/dashboard/data`, { headers: { authorization: basic } }))
        .status,
    ).toBe(200);
    const forget = await fetch(`http://127.0.0.1:${server.port}/admin/forget`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'text/plain' },
      body: JSON.stringify({ user: 'u1' }),
    });
    expect(forget.status).toBe(401);
    expect(
      (await fetch(`http://127.0.0.1:${server.port}/admin/experiments`, { headers: { authorization: basic } })).status,
    ).toBe(401);
  });

  it('draws live traffic, the experiment with its intervals, the bandit and the bundle in Chromium, without console errors', async () => {
    const browser = await launchBrowser();
    try {
      const context = await browser.newContext({
        httpCredentials: { username: 'marketing', password: TOKEN },
        viewport: { width: 1100, height: 900 },
      });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(e.message));
      const res = await page.goto(`http://127.0.0.1:${server.port}/dashboard`);
      expect(res?.status()).toBe(200);
      await page.waitForSelector('body[data-loaded="1"]', { timeout: 20_000 });
      // Traffic: three uPlot charts, each with points above zero for recommend.
      expect(await page.locator('.uplot canvas').count()).toBe(3);
      const traffic = await page.evaluate(() => {
        type Chart = { plot: { data: (number | null)[][]; series: { label?: string }[] } };
        const charts = (globalThis as unknown as { charts: Record<string, Chart> }).charts;
        const series = (id: string, label: string) => {
          const c = charts[id].plot;
          const j = c.series.findIndex((s) => s.label === label);
          return j > 0 ? c.data[j] : [];
        };
        const max = (xs: (number | null)[]) => Math.max(0, ...xs.filter((x): x is number => x !== null));
        return {
          points: charts['chart-rps'].plot.data[0].length,
          rps: max(series('chart-rps', 'recommend')),
          p99: max(series('chart-latency', 'recommend p99')),
          errors: max(series('chart-errors', 'recommend')),
        };
      });
      expect(traffic.points).toBeGreaterThanOrEqual(2);
      expect(traffic.rps).toBeGreaterThan(1);
      expect(traffic.p99).toBeGreaterThan(0);
      expect(traffic.errors).toBeGreaterThan(0);
      // The experiment: both variants with users, the lift drawn as an interval with finite ends.
      const rows = page.locator('#experiment-ranking tbody tr');
      expect(await rows.count()).toBe(2);
      const users = await page.locator('#experiment-ranking tbody tr td:nth-child(2)').allTextContents();
      for (const u of users) expect(Number(u.replace(/,/g, ''))).toBeGreaterThan(30);
      const interval = page.locator('.experiment svg.interval').first();
      expect(Number.isFinite(Number(await interval.getAttribute('data-lo')))).toBe(true);
      expect(await page.locator('.experiment').textContent()).toMatch(/mSPRT/);
      // The bandit: each of the bundle's segments and the new shoppers, three arms (nothing, two offers).
      const segments = page.locator('#bandit-body section.segment');
      expect(await segments.count()).toBeGreaterThanOrEqual(2);
      expect(await segments.first().locator('tbody tr').count()).toBe(3);
      const decisions = await page.locator('#bandit-body tbody tr td:nth-child(2)').allTextContents();
      expect(decisions.reduce((s, x) => s + Number(x.replace(/,/g, '')), 0)).toBeGreaterThan(10);
      expect(await page.locator('#bundle-version').textContent()).toMatch(/^Version v1, built /);
      expect(await page.locator('#segments tbody tr').count()).toBeGreaterThanOrEqual(2);
      const shot = await page.screenshot({ fullPage: true, ...(SCREENSHOT && { path: SCREENSHOT }) });
      expect(shot.subarray(1, 4).toString()).toBe('PNG');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
