import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { cliPath, tempDir } from '../helpers/paths.js';

const dir = tempDir();
const vitrine = (...args: string[]) =>
  spawnSync(process.execPath, [cliPath, 'promotions', ...args], {
    encoding: 'utf8',
    env: { ...process.env, VITRINE_PROGRESS: '0' },
  });

describe('vitrine promotions simulate and evaluate', () => {
  const report = join(dir, 'regret.html');
  const log = join(dir, 'decisions.csv');
  let simulated: { policies: Record<string, { reward: number; regret: number[] }>; checkpoints: number[] };
  let browser: Browser;

  beforeAll(async () => {
    const r = vitrine(
      'simulate',
      '--data',
      'synthetic:tiny',
      '--impressions',
      '20000',
      '--seed',
      '3',
      '--json',
      '--report',
      report,
      '--log',
      log,
      '--log-decisions',
      '3000',
    );
    expect(r.status, r.stderr).toBe(0);
    simulated = JSON.parse(r.stdout);
    browser = await launchBrowser();
  }, 120_000);
  afterAll(() => browser?.close());

  it('reports every policy with its regret curve, and writes a decision log', () => {
    expect(Object.keys(simulated.policies).sort()).toEqual(['greedy', 'none', 'oracle', 'thompson', 'uniform']);
    expect(simulated.policies.oracle.regret.every((x) => x === 0)).toBe(true);
    for (const p of Object.values(simulated.policies)) expect(p.regret).toHaveLength(simulated.checkpoints.length);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('user,segment,eligible,action,reward,propensity');
    expect(lines).toHaveLength(3001);
  });

  it('draws the report in a real browser: the table, and a regret curve per policy', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(pathToFileURL(report).href);
    expect(await page.title()).toBe('Promotion policies on synthetic:tiny');
    expect(await page.locator('#policies tbody tr').count()).toBe(5);
    const curves = page.locator('svg polyline');
    expect(await curves.count()).toBe(5);
    // Every curve is drawn inside the chart, and the ones with more regret end higher (smaller y).
    const end = async (policy: string): Promise<number> => {
      const box = await page.locator(`polyline[data-policy="${policy}"]`).boundingBox();
      expect(box!.width).toBeGreaterThan(500);
      const points = (await page.locator(`polyline[data-policy="${policy}"]`).getAttribute('points'))!
        .trim()
        .split(' ');
      return Number(points[points.length - 1].split(',')[1]);
    };
    const regret = (p: string) => simulated.policies[p].regret.at(-1)!;
    const order = ['thompson', 'uniform', 'none'].sort((a, b) => regret(a) - regret(b));
    const ends = await Promise.all(order.map(end));
    expect(ends[0]).toBeGreaterThanOrEqual(ends[1]);
    expect(ends[1]).toBeGreaterThanOrEqual(ends[2]);
    expect(errors).toEqual([]);
  });

  it('evaluates Thompson sampling on the log, next to the logging policy, with intervals', () => {
    const r = vitrine('evaluate', '--log', log, '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ rows: 3000, context: ['segment'], learntFrom: 1500, evaluated: 1500 });
    for (const k of ['logging', 'ips', 'snips', 'dr']) expect(out[k].low).toBeLessThan(out[k].high);
    const table = vitrine('evaluate', '--log', log);
    expect(table.stdout).toMatch(/Thompson sampling, doubly robust\s+\d/);
  });

  it('refuses a bad log by line and field, a real data set, and a report path it did not write', () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'segment,action,reward,propensity\n0,TEN,3.5,0\n');
    const r = vitrine('evaluate', '--log', bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad\.csv:2: field "propensity": must be above 0 and at most 1, got 0/);
    const real = vitrine('simulate', '--data', 'ml-100k', '--impressions', '1000');
    expect(real.status).toBe(2);
    expect(real.stderr).toMatch(/simulation needs the synthetic world's response model/);
    const other = join(dir, 'notes.html');
    writeFileSync(other, '<p>my notes</p>');
    const clash = vitrine('simulate', '--data', 'synthetic:tiny', '--impressions', '1000', '--report', other);
    expect(clash.status).toBe(2);
    expect(clash.stderr).toMatch(/notes\.html: exists and is not one this command wrote/);
    expect(readFileSync(other, 'utf8')).toBe('<p>my notes</p>');
  });
});
