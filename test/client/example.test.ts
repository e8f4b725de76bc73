import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { startTestServer } from '../helpers/server.js';

const bundle = inject('fixtureBundle');

describe('examples/shop-backend.mjs', () => {
  it("serves a shop page from Vitrine's recommendations and offer, through `vitrine/client`", async () => {
    const catalogue = join(tempDir(), 'promotions.csv');
    writeFileSync(catalogue, 'id,kind,value\nTEN,percent_off,10\n');
    const server = await startTestServer(bundle, { clock: 'bundle', promotions: catalogue });
    const shop = spawn(
      process.execPath,
      [join(repoRoot, 'examples', 'shop-backend.mjs'), `ws://127.0.0.1:${server.port}/ws`, '0'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        shop.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        shop.once('exit', (code) => reject(new Error(`the example exited (${code}): ${out}`)));
      });
      const page = (await (await fetch(`http://127.0.0.1:${port}/page?user=u1`)).json()) as {
        products: { id: string; why: string }[];
        offer: { id: string; decision: string } | null;
      };
      expect(page.products).toHaveLength(6);
      expect(page.products[0].why.length).toBeGreaterThan(0);
      if (page.offer) expect(page.offer).toMatchObject({ id: 'TEN', decision: expect.stringMatching(/^d/) });
      const bought = await fetch(`http://127.0.0.1:${port}/bought?user=u1&item=${page.products[0].id}&price=19.5`, {
        method: 'POST',
      });
      expect(await bought.json()).toMatchObject({ accepted: true });
      const bad = await fetch(`http://127.0.0.1:${port}/bought?user=u1&price=19.5`, { method: 'POST' });
      expect(bad.status).toBe(400);
    } finally {
      shop.kill('SIGTERM');
      await server.shutdown();
    }
  });
});

describe('examples/synthetic-shoppers.mjs', () => {
  it("plays the synthetic shop's shoppers against a server running examples/experiments.json", async () => {
    const server = await startTestServer(bundle, {
      clock: 'bundle',
      adminToken: 't',
      experiments: join(repoRoot, 'examples', 'experiments.json'),
    });
    try {
      const out = await new Promise<string>((resolve, reject) => {
        const shoppers = spawn(
          process.execPath,
          // The fixture bundle is trained on synthetic:small, seed 7.
          [
            join(repoRoot, 'examples', 'synthetic-shoppers.mjs'),
            `ws://127.0.0.1:${server.port}/ws`,
            'synthetic:small',
            '7',
            '400',
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let text = '';
        shoppers.stdout.on('data', (d: Buffer) => (text += d.toString()));
        shoppers.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${code}: ${text}`))));
      });
      expect(out).toMatch(/^400 visits: \d+ clicks, \d+ purchases sent to/);
      const res = await fetch(`http://127.0.0.1:${server.port}/admin/experiments`, {
        headers: { authorization: 'Bearer t' },
      });
      const { result } = (await res.json()) as {
        result: { experiments: { name: string; variants: { users: number; exposures: number; clicks: number }[] }[] };
      };
      const ranking = result.experiments.find((e) => e.name === 'ranking')!;
      expect(ranking.variants.reduce((s, v) => s + v.exposures, 0)).toBe(400);
      expect(ranking.variants.reduce((s, v) => s + v.clicks, 0)).toBe(Number(/(\d+) clicks/.exec(out)![1]));
    } finally {
      await server.shutdown();
    }
  });
});
