import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ExperimentReport } from '../../src/experiments/report.js';
import type { VitrineServer } from '../../src/serve/server.js';
import { httpCall } from '../helpers/client.js';
import { runVitrine } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { startTestServer } from '../helpers/server.js';

const bundle = inject('fixtureBundle');
const dir = tempDir();
const file = join(dir, 'experiments.json');
writeFileSync(
  file,
  JSON.stringify({
    experiments: [
      {
        name: 'ranking',
        salt: 'c1',
        share: 0.8,
        variants: [{ name: 'ranker' }, { name: 'embeddings', settings: { ranking: 'embeddings' } }],
      },
    ],
  }),
);

const vitrine = (...args: string[]) => runVitrine(args, { VITRINE_ADMIN_TOKEN: '' });

describe('vitrine experiments', () => {
  let server: VitrineServer;
  beforeAll(async () => {
    server = await startTestServer(bundle, { clock: 'bundle', adminToken: 'tok', experiments: file });
    for (let u = 1; u <= 120; u++) {
      await httpCall(server.port, 'recommend', { id: u, user: `u${u}`, k: 5 });
      if (u % 4 === 0) await httpCall(server.port, 'event', { id: u, user: `u${u}`, item: 'i1', type: 'click' });
    }
  });
  afterAll(() => server?.shutdown());

  it('check: accepts a valid file and names the field of a wrong one', async () => {
    const ok = await vitrine('experiments', 'check', file);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/ranking: running, 80% of shoppers, recommend, variants ranker \(1\), embeddings \(1\)/);
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ experiments: [{ name: 'x', salt: 's', variants: [{ name: 'a', weight: -1 }, { name: 'b' }] }] }),
    );
    const refused = await vitrine('experiments', 'check', bad);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(
      /experiments\[0\]\.variants\[0\]\.weight: expected a number from 0\.001 to 1000, got -1/,
    );
  });

  it('report: the table and the JSON of a running server, and clear refusals', async () => {
    const url = `http://127.0.0.1:${server.port}`;
    const table = await vitrine('experiments', 'report', '--url', url, '--token', 'tok');
    expect(table.code).toBe(0);
    expect(table.out).toMatch(
      /ranking \(running, 80% of shoppers, recommend, outcomes within 72 h\): users split as weighted/,
    );
    expect(table.out).toMatch(/ranker \(control\)/);
    expect(table.out).toMatch(/intervals: mSPRT/);
    const json = await vitrine(
      'experiments',
      'report',
      '--url',
      `ws://127.0.0.1:${server.port}/ws`,
      '--token',
      'tok',
      '--json',
    );
    const r = JSON.parse(json.out) as { experiments: ExperimentReport[] };
    const users = r.experiments[0].variants.reduce((s, v) => s + v.users, 0);
    // 80% of 120 shoppers, give or take the hash.
    expect(users).toBeGreaterThan(80);
    expect(users).toBeLessThan(112);
    const noToken = await vitrine('experiments', 'report', '--url', url);
    expect([noToken.code, noToken.err]).toEqual([2, expect.stringMatching(/--token .* admin token is required/)]);
    const wrong = await vitrine('experiments', 'report', '--url', url, '--token', 'nope');
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/admin token required/);
  });
});
