import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readBundle } from '../../src/bundle/read.js';
import type { PromotionResult } from '../../src/protocol/replies.js';
import { VitrineServer } from '../../src/serve/server.js';
import { TestClient } from '../helpers/client.js';
import { tempDir } from '../helpers/paths.js';
import { startTestServer } from '../helpers/server.js';

const bundle = inject('fixtureBundle');
const HEADER = 'id,kind,value,min_basket,segments,categories,start,end,budget,cost,code,label';
const dir = tempDir();
const catalogue = join(dir, 'promotions.csv');
const b = readBundle(bundle);
const shoppers = b.userIds.filter((_, u) => b.history.ui.indptr[u + 1] - b.history.ui.indptr[u] > 3);

async function post(
  port: number,
  path: string,
  body: unknown,
): Promise<{ status: number; reply: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { authorization: 'Bearer adm' },
    body: JSON.stringify(body),
  });
  return { status: r.status, reply: (await r.json()) as Record<string, unknown> };
}

describe('the promotion call', () => {
  let server: VitrineServer;
  let client: TestClient;

  beforeAll(async () => {
    writeFileSync(
      catalogue,
      `${HEADER}
TEN,percent_off,10,,,,,,,,,
ENDED,percent_off,30,,,,2020-01-01,2020-02-01,,,,
ONCE,coupon,15,,,,,,1,,ONCE15,
BIG,percent_off,20,500,,,,,,,,
`,
    );
    server = await startTestServer(bundle, { adminToken: 'adm', promotions: catalogue, promotionExploration: 0 });
    client = await TestClient.connect(`ws://127.0.0.1:${server.port}/ws`);
  });
  afterAll(async () => {
    await client?.close();
    await server?.shutdown();
  });

  it('answers over WebSocket and HTTP with a decision, the segment and why; never an offer that is not eligible', async () => {
    const ws = await client.request({ call: 'promotion', user: shoppers[0], k: 3 });
    const r = ws.result as PromotionResult;
    expect(r.decision).toMatch(/^d[\w-]{12}$/);
    expect(r.segment.id).toEqual(expect.any(Number));
    expect(r.reason.length).toBeGreaterThan(20);
    expect(r.attributionHours).toBe(72);
    expect(r.propensity).toBeGreaterThan(0);
    const http = await post(server.port, '/v1/promotion', {
      user: shoppers[1],
      basket: [{ item: b.items[0].id, price: 600 }],
    });
    expect(http.status).toBe(200);
    const ids = new Set<string>();
    for (let j = 0; j < 60; j++) {
      const d = (await client.request({ call: 'promotion', user: shoppers[j % shoppers.length], k: 3 }))
        .result as PromotionResult;
      for (const p of d.promotions) ids.add(p.id);
    }
    // ENDED has ended; BIG needs a basket of 500.
    expect([...ids].sort()).toEqual(['ONCE', 'TEN']);
    // With a basket of 600, BIG is eligible too (each decision may also be "nothing": the bandit's own arm).
    const offered = new Set<string>();
    for (let j = 0; j < 30; j++) {
      const d = (
        await client.request({
          call: 'promotion',
          user: shoppers[j % shoppers.length],
          basket: [{ item: b.items[0].id, price: 300, quantity: 2 }],
          k: 5,
        })
      ).result as PromotionResult;
      for (const p of d.promotions) offered.add(p.id);
    }
    expect(offered.has('BIG')).toBe(true);
    expect([...offered].every((id) => ['BIG', 'ONCE', 'TEN'].includes(id))).toBe(true);
  });

  it('respects a budget: once its one redemption is in, the coupon is not shown again', async () => {
    let decision: PromotionResult | undefined;
    let user = '';
    for (let j = 0; j < 100 && !decision; j++) {
      user = shoppers[j % shoppers.length];
      const d = (await client.request({ call: 'promotion', user })).result as PromotionResult;
      if (d.promotions[0]?.id === 'ONCE') decision = d;
    }
    expect(decision?.promotions[0]).toMatchObject({ code: 'ONCE15', kind: 'coupon' });
    const redeemed = await client.request({
      call: 'event',
      user,
      type: 'promotion_redeem',
      decision: decision!.decision,
      price: 40,
    });
    expect(redeemed.result).toEqual({ accepted: true, credited: true });
    // Credited once: the same redemption again counts against the budget but credits nothing.
    expect(
      (await client.request({ call: 'event', user, type: 'promotion_view', decision: decision!.decision })).result,
    ).toEqual({
      accepted: true,
      credited: false,
    });
    for (let j = 0; j < 40; j++) {
      const d = (await client.request({ call: 'promotion', user: shoppers[j % shoppers.length], k: 3 }))
        .result as PromotionResult;
      expect(d.promotions.map((p) => p.id)).not.toContain('ONCE');
    }
  });

  it('learns at once from the purchases its decisions are credited with', async () => {
    // Shoppers buy after 10% off and never otherwise: the bandit must come to show 10% off.
    const last: string[] = [];
    for (let j = 0; j < 240; j++) {
      const user = shoppers[j % shoppers.length];
      const d = (await client.request({ call: 'promotion', user })).result as PromotionResult;
      if (d.promotions[0]?.id === 'TEN')
        expect(
          (await client.request({ call: 'event', user, item: b.items[1].id, type: 'purchase', price: 50 })).result,
        ).toMatchObject({
          accepted: true,
        });
      if (j >= 200) last.push(d.promotions[0]?.id ?? 'none');
    }
    expect(last.filter((a) => a === 'TEN').length).toBeGreaterThanOrEqual(36);
    const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    expect(metrics).toMatch(/vitrine_promotion_conversions_total\{promotion="TEN",by="purchase"\} \d\d/);
    expect(metrics).toMatch(/vitrine_promotions 4/);
  });

  it('refuses bad input by field, and matches outcome events only to decisions it holds', async () => {
    const bad = async (body: Record<string, unknown>) => (await client.request(body)).error;
    expect(await bad({ call: 'promotion' })).toMatchObject({ code: 'invalid_field', field: 'user' });
    expect(await bad({ call: 'promotion', user: 'u1', k: 9 })).toMatchObject({ field: 'k' });
    expect(await bad({ call: 'promotion', user: 'u1', basket: [{ item: 'i1', quantity: -1 }] })).toMatchObject({
      field: 'basket[0].quantity',
    });
    expect(await bad({ call: 'promotion', user: 'u1', basket: [{ sku: 'i1' }] })).toMatchObject({
      field: 'basket[0].sku',
    });
    expect(await bad({ call: 'event', user: 'u1', type: 'promotion_view' })).toMatchObject({ field: 'decision' });
    expect(await bad({ call: 'event', user: 'u1', type: 'promotion_view', decision: 'd1', item: 'i1' })).toMatchObject({
      field: 'item',
    });
    expect(await bad({ call: 'event', user: 'u1', type: 'purchase', item: 'i1', decision: 'd1' })).toMatchObject({
      field: 'decision',
    });
    expect(
      (await client.request({ call: 'event', user: 'u1', type: 'promotion_redeem', decision: 'dNoSuchDecision' }))
        .result,
    ).toEqual({
      accepted: true,
      credited: false,
    });
  });

  it('re-reads the catalogue at a reload, and keeps the old one when the new file is bad', async () => {
    writeFileSync(catalogue, `${HEADER}\nNEW,free_shipping,,,,,,,,3.5,,\n`);
    expect((await post(server.port, '/admin/reload', {})).status).toBe(200);
    const d = (await client.request({ call: 'promotion', user: shoppers[0], k: 2 })).result as PromotionResult;
    expect(d.promotions.every((p) => p.id === 'NEW')).toBe(true);
    writeFileSync(catalogue, `${HEADER}\nNEW,percent_off,200,,,,,,,,,\n`);
    const failed = await post(server.port, '/admin/reload', {});
    expect(failed.status).toBe(400);
    expect(failed.reply).toMatchObject({
      error: {
        code: 'invalid_field',
        field: 'promotions',
        message: expect.stringMatching(
          /^reload failed, still serving as before: .*promotions\.csv:2: field "value": percent_off needs the percentage off/,
        ),
      },
    });
    const still = (await client.request({ call: 'promotion', user: shoppers[0], k: 2 })).result as PromotionResult;
    expect(still.promotions.every((p) => p.id === 'NEW')).toBe(true);
  });
});

describe('a server without a catalogue', () => {
  it('answers promotion `unavailable`, saying how to give it one', async () => {
    const server = await startTestServer(bundle);
    try {
      const r = await post(server.port, '/v1/promotion', { user: 'u1' });
      expect(r.status).toBe(503);
      expect(r.reply).toMatchObject({
        error: { code: 'unavailable', message: expect.stringMatching(/--promotions FILE/) },
      });
    } finally {
      await server.shutdown();
    }
  });
});
