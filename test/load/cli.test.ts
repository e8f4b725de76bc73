import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LoadRun } from '../../src/load/run.js';
import { VitrineServer } from '../../src/serve/server.js';
import { launchBrowser } from '../helpers/browser.js';
import { runVitrine } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { startTestServer } from '../helpers/server.js';

const bundle = inject('fixtureBundle');
const dir = tempDir();

const vitrine = (...args: string[]) => runVitrine(args);

describe('vitrine loadtest', () => {
  let server: VitrineServer;
  let url: string;
  beforeAll(async () => {
    const promotions = join(dir, 'promotions.csv');
    writeFileSync(promotions, 'id,kind,value\nTEN,percent_off,10\n');
    server = await startTestServer(bundle, { clock: 'bundle', promotions });
    url = `ws://127.0.0.1:${server.port}/ws`;
  });
  afterAll(() => server?.shutdown());
  /** `loadtest` pointed at the server under test, with traffic from the fixture bundle. */
  const against = (): string[] => ['loadtest', '--url', url, '--bundle', bundle];

  it('runs an open loop of every call from a bundle, with a table, JSON and an HTML report that renders', async () => {
    const json = join(dir, 'a.json');
    const report = join(dir, 'a.html');
    const r = await vitrine(
      ...against(),
      '--rate',
      '100',
      '--duration',
      '2s',
      '--warmup',
      '500ms',
      '--connections',
      '2',
      '--json',
      json,
      '--report',
      report,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/open loop, offered 100\/s/);
    expect(r.out).toMatch(/load generator CPU: \d+% of a core/);
    const run = JSON.parse(readFileSync(json, 'utf8')) as LoadRun;
    expect(run.result.offeredRate).toBe(100);
    expect(run.result.overall.count).toBe(200);
    expect(run.result.overall.ok).toBe(200);
    // The default mix: every call it names was sent and answered.
    expect(Object.keys(run.result.byCall).sort()).toEqual(['event', 'promotion', 'recommend', 'similar']);
    expect(run.result.byCall.recommend.count).toBeGreaterThan(100);
    expect(run.result.overall.p99).toBeGreaterThan(0);
    expect(run.result.overall.server.p50).toBeLessThanOrEqual(run.result.overall.p50);
    expect(run.result.timeline.length).toBeGreaterThanOrEqual(2);

    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(pathToFileURL(report).href);
      // Latency over time, throughput over time, and the distribution: each a uPlot canvas with data.
      expect(await page.locator('.uplot canvas').count()).toBe(3);
      const legends = (await page.locator('.uplot .u-legend').allTextContents()).join(' ');
      expect(legends).toMatch(/p99/);
      expect(legends).toMatch(/ok\/s/);
      expect(await page.locator('table', { hasText: 'recommend' }).count()).toBeGreaterThan(0);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }

    // A second run, then the two side by side.
    const b = join(dir, 'b.json');
    expect(
      (
        await vitrine(
          ...against(),
          '--rate',
          '50',
          '--duration',
          '1s',
          '--warmup',
          '0.2s',
          '--mix',
          'recommend=1',
          '--json',
          b,
          '--name',
          'second',
        )
      ).code,
    ).toBe(0);
    const compareReport = join(dir, 'compare.html');
    const c = await vitrine('loadtest', 'compare', json, b, '--report', compareReport);
    expect(c.code, c.err).toBe(0);
    // Both runs' achieved rates side by side, and their ratio (a loaded machine sends a few late).
    expect(c.out).toMatch(/achieved req\/s\s+(9\d|10[01])\s+(4[5-9]|5[0-2])\s+0\.[45]\d×/);
    expect(c.out).toMatch(/recommend p99 ms/);
    expect(readFileSync(compareReport, 'utf8')).toContain('second');
  });

  it('steps the rate to the highest that meets an objective', async () => {
    const json = join(dir, 'max.json');
    const r = await vitrine(
      ...against(),
      '--mix',
      'recommend=1',
      '--find-max',
      '--slo',
      'p99=1000ms',
      '--start-rate',
      '20',
      '--max-rate',
      '80',
      '--duration',
      '1s',
      '--json',
      json,
    );
    expect(r.code, r.err).toBe(0);
    const run = JSON.parse(readFileSync(json, 'utf8')) as LoadRun;
    // Every step (20, 40, 80/s) meets a 1 s p99 on the fixture; the search stops at --max-rate.
    expect(run.findMax?.steps.map((s) => s.rate)).toEqual([20, 40, 80]);
    expect(run.findMax?.max).toBe(80);
    expect(r.out).toMatch(/highest rate meeting p99 ≤ 1000 ms: 80\/s/);
  });

  it('names what is wrong with its input, and keeps files it did not write', async () => {
    const cases: [string[], RegExp][] = [
      [['--url', 'localhost:1', '--bundle', bundle, '--rate', '5'], /--url: "localhost:1" is not ws:\/\//],
      [['--url', url, '--bundle', bundle], /give --rate R \(open loop\), --closed, or --find-max/],
      [['--url', url, '--bundle', bundle, '--rate', '5', '--closed'], /--closed and --rate: give one of them/],
      [['--url', url, '--bundle', bundle, '--find-max'], /--find-max needs --slo/],
      [['--url', url, '--bundle', bundle, '--rate', '5', '--mix', 'recommend=2,nope=1'], /--mix/],
      [['--url', url, '--bundle', bundle, '--rate', '5', '--duration', 'soon'], /--duration: "soon" is not a duration/],
    ];
    for (const [args, message] of cases) {
      const r = await vitrine('loadtest', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
    }
    // A deployment that does not answer: exit 1 and why, not an internal error.
    const away = await vitrine('loadtest', '--url', 'ws://127.0.0.1:1/ws', '--rate', '5', '--duration', '1s');
    expect(away.code).toBe(1);
    expect(away.err).toMatch(/--url: cannot connect to ws:\/\/127\.0\.0\.1:1\/ws/);
    expect(away.err).not.toMatch(/internal error/);
    const mine = join(dir, 'notes.html');
    writeFileSync(mine, '<p>my notes</p>');
    const r = await vitrine(...against(), '--rate', '5', '--duration', '1s', '--report', mine);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/exists and is not one vitrine loadtest wrote/);
    expect(readFileSync(mine, 'utf8')).toBe('<p>my notes</p>');
  });
});
