import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { ExperimentReport } from '../../src/experiments/report.js';
import { ModelPool } from '../../src/serve/pool.js';
import type { VitrineServer } from '../../src/serve/server.js';
import { httpCall, type Reply } from '../helpers/client.js';
import { tempDir } from '../helpers/paths.js';
import { TestRedis } from '../helpers/redis.js';
import { startTestServer } from '../helpers/server.js';

const fixture = inject('fixtureBundle');
const TOKEN = 'secret';

type Rec = Reply & {
  experiments?: Record<string, string>;
  result?: { items: { id: string; stage: string }[]; user: { coldStart: boolean } };
};

const EXPERIMENTS = {
  experiments: [
    {
      name: 'ranking',
      salt: 'r1',
      variants: [{ name: 'ranker' }, { name: 'popular', settings: { ranking: 'popularity' } }],
    },
    {
      name: 'model',
      salt: 'm1',
      share: 0.5,
      calls: ['recommend', 'similar'],
      variants: [{ name: 'current' }, { name: 'previous', settings: { bundle: 'v1' } }],
    },
  ],
};

/** A bundle directory with two versions (v2 served, v1 for an experiment) and an experiments file. */
function setup(experiments: unknown = EXPERIMENTS): { models: string; file: string } {
  const dir = tempDir();
  const models = join(dir, 'models');
  cpSync(fixture, join(models, 'v1'), { recursive: true });
  cpSync(fixture, join(models, 'v2'), { recursive: true });
  const file = join(dir, 'experiments.json');
  writeFileSync(file, JSON.stringify(experiments));
  return { models, file };
}

const recommend = async (s: VitrineServer, user: string): Promise<Rec> =>
  (await httpCall(s.port, 'recommend', { id: 1, user, k: 10 })).reply as Rec;

async function reports(s: VitrineServer): Promise<ExperimentReport[]> {
  const res = await fetch(`http://127.0.0.1:${s.port}/admin/experiments`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { result: { experiments: ExperimentReport[] } }).result.experiments;
}

/** A shopper the experiment puts in `variant`. */
async function firstIn(s: VitrineServer, exp: string, variant: string): Promise<string> {
  for (let u = 1; u < 200; u++) if ((await recommend(s, `u${u}`)).experiments?.[exp] === variant) return `u${u}`;
  throw new Error(`no shopper in ${exp}/${variant}`);
}

const variantOf = (r: ExperimentReport[], exp: string, variant: string) =>
  r.find((x) => x.name === exp)!.variants.find((v) => v.name === variant)!;

describe('experiments on one server', () => {
  let server: VitrineServer;
  let file: string;
  let models: string;
  beforeAll(async () => {
    ({ models, file } = setup());
    server = await startTestServer(models, { clock: 'bundle', adminToken: TOKEN, experiments: file });
  });
  afterAll(() => server?.shutdown());

  it("serves each shopper their variants' settings and names them in the reply", async () => {
    const seen = { popular: 0, ranker: 0, previous: 0, current: 0, outside: 0 };
    for (let u = 1; u <= 60; u++) {
      const r = await recommend(server, `u${u}`);
      expect(r.error).toBeUndefined();
      const v = r.experiments!;
      expect(['ranker', 'popular']).toContain(v.ranking);
      seen[v.ranking as 'ranker' | 'popular']++;
      const stages = r.result!.items.map((x) => x.stage);
      // Popularity shows the trending list; the ranker orders retrieved candidates.
      if (v.ranking === 'popular') expect(new Set(stages)).toEqual(new Set(['trending']));
      else if (!r.result!.user.coldStart) expect(stages.some((s) => s !== 'trending')).toBe(true);
      if (v.model === undefined) seen.outside++;
      else seen[v.model as 'previous' | 'current']++;
      // The variant's bundle version answers (served from its own pool); everyone else gets the newest.
      expect(r.bundle).toBe(v.model === 'previous' ? 'v1' : 'v2');
    }
    for (const n of Object.values(seen)) expect(n).toBeGreaterThan(5);
    // Calls without a user name no variants.
    const anonymous = (await httpCall(server.port, 'recommend', { id: 2, history: ['i1'], k: 3 })).reply as Rec;
    expect(anonymous.experiments).toBeUndefined();
  });

  it('counts exposures, and credits clicks, carts and purchases to the variant that preceded them', async () => {
    const user = 'u5';
    const variant = (await recommend(server, user)).experiments!.ranking;
    const before = variantOf(await reports(server), 'ranking', variant);
    const newcomer = 'walk-in-77';
    const newVariant = (await recommend(server, newcomer)).experiments!.ranking;
    await recommend(server, user);
    await recommend(server, user);
    for (const e of [
      { type: 'click', item: 'i3' },
      { type: 'click', item: 'i4' },
      { type: 'cart', item: 'i4' },
      { type: 'purchase', item: 'i4', price: 20, quantity: 2 },
    ])
      expect((await httpCall(server.port, 'event', { id: 3, user, ...e })).reply.error).toBeUndefined();
    const after = await reports(server);
    const v = variantOf(after, 'ranking', variant);
    expect(v.exposures - before.exposures).toBe(2);
    // Two lists of ten: the CTR's denominator.
    expect(v.impressions - before.impressions).toBe(20);
    expect(v.users - before.users).toBe(newVariant === variant ? 1 : 0);
    expect(v.clicks - before.clicks).toBe(2);
    expect(v.carts - before.carts).toBe(1);
    expect(v.purchases - before.purchases).toBe(1);
    expect(v.revenue - before.revenue).toBeCloseTo(40, 6);
    // The shopper's per-user totals moved from (c, r) to (c + 2, r + 40): the sums of squares follow exactly.
    expect(v.revenueSq - before.revenueSq).toBeGreaterThanOrEqual(1600);
    const r = after.find((x) => x.name === 'ranking')!;
    expect(r.method).toMatch(/mSPRT/);
    expect(r.srm.pValue).toBeGreaterThan(0.001);
    expect(r.variants.find((x) => !x.control)!.vsControl).toBeDefined();
    // A shopper never exposed is credited nowhere.
    const total = (rs: ExperimentReport[]) => rs.flatMap((x) => x.variants).reduce((s, x) => s + x.clicks, 0);
    const clicksBefore = total(after);
    await httpCall(server.port, 'event', { id: 4, user: 'never-seen', item: 'i3', type: 'click' });
    expect(total(await reports(server))).toBe(clicksBefore);
  });

  it('refuses the report without the admin token', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/admin/experiments`);
    expect(res.status).toBe(401);
  });

  it('re-reads the file at a reload, and keeps the one in use when the new one is wrong', async () => {
    const reload = async () =>
      fetch(`http://127.0.0.1:${server.port}/admin/reload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    writeFileSync(file, JSON.stringify({ experiments: [{ ...EXPERIMENTS.experiments[0], share: 2 }] }));
    const bad = await reload();
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as Reply;
    expect(body.error).toMatchObject({ code: 'invalid_field', field: 'experiments' });
    expect(body.error!.message).toMatch(/experiments\[0\]\.share: expected a number from 0 to 1/);
    expect((await recommend(server, 'u1')).experiments!.ranking).toBeDefined();
    // A variant's new bundle version that cannot start fails the reload, and nothing changes: the
    // variant's shoppers are still answered by v1, never by another version in its place.
    const shopper = await firstIn(server, 'model', 'previous');
    cpSync(fixture, join(models, 'v0'), { recursive: true });
    writeFileSync(join(models, 'v0', 'ranker.onnx'), 'not a model');
    const broken = structuredClone(EXPERIMENTS);
    broken.experiments[1].variants[1].settings = { bundle: 'v0' };
    writeFileSync(file, JSON.stringify(broken));
    const starts = vi.spyOn(ModelPool, 'start');
    expect((await reload()).status).toBe(500);
    // Beside the traffic being served, a reload starts a variant's workers one after another.
    expect(starts).toHaveBeenCalledWith(expect.stringMatching(/v0$/), expect.objectContaining({ staggered: true }));
    starts.mockRestore();
    expect((await recommend(server, shopper)).bundle).toBe('v1');
    // The model experiment stopped: its pool is closed and nobody is served v1 any more.
    writeFileSync(
      file,
      JSON.stringify({ experiments: [EXPERIMENTS.experiments[0], { ...EXPERIMENTS.experiments[1], active: false }] }),
    );
    expect((await reload()).status).toBe(200);
    for (let u = 1; u <= 20; u++) {
      const r = await recommend(server, `u${u}`);
      expect(r.experiments!.model).toBeUndefined();
      expect(r.bundle).toBe('v2');
    }
    // A stopped experiment keeps its report as it was: later outcomes are not credited to it.
    const stopped = (await reports(server)).find((x) => x.name === 'model')!;
    expect(stopped.active).toBe(false);
    await httpCall(server.port, 'event', { id: 9, user: shopper, item: 'i3', type: 'click' });
    expect((await reports(server)).find((x) => x.name === 'model')).toEqual(stopped);
  });
});

describe('experiments across replicas and restarts', () => {
  it('assign every shopper the same variants on two replicas and after a restart, and count into one report', async () => {
    const redis = await TestRedis.start();
    const { models, file } = setup();
    const settings = { clock: 'bundle' as const, adminToken: TOKEN, experiments: file, store: redis.url };
    let [a, b] = [await startTestServer(models, settings), await startTestServer(models, settings)];
    try {
      const users = Array.from({ length: 40 }, (_, j) => `u${j + 1}`);
      const onA = await Promise.all(users.map(async (u) => (await recommend(a, u)).experiments));
      const onB = await Promise.all(users.map(async (u) => (await recommend(b, u)).experiments));
      expect(onB).toEqual(onA);
      await b.shutdown();
      b = await startTestServer(models, settings);
      expect(await Promise.all(users.map(async (u) => (await recommend(b, u)).experiments))).toEqual(onA);
      // Exposed on A (and B), bought on B: one shopper, counted once, credited once.
      const user = 'u7';
      const variant = onA[6]!.ranking;
      await httpCall(b.port, 'event', { id: 1, user, item: 'i9', type: 'purchase', price: 15 });
      const [ra, rb] = [await reports(a), await reports(b)];
      expect(ra).toEqual(rb);
      const v = variantOf(ra, 'ranking', variant);
      const all = ra.find((x) => x.name === 'ranking')!.variants;
      expect(all.reduce((s, x) => s + x.users, 0)).toBe(users.length);
      expect(all.reduce((s, x) => s + x.exposures, 0)).toBe(users.length * 3);
      expect([v.purchases, v.converters, v.revenue]).toEqual([1, 1, 15]);
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
      await redis.stop();
    }
  });

  it("refuse a variant's candidates over the server's limit", async () => {
    const { models, file } = setup({
      experiments: [
        { name: 'wide', salt: 'w', variants: [{ name: 'a' }, { name: 'b', settings: { candidates: 5000 } }] },
      ],
    });
    await expect(startTestServer(models, { experiments: file })).rejects.toThrow(
      /variant "b": candidates: 5000 is over the server's limit of 2000/,
    );
  });

  it('refuse to start on a bad file, naming the field', async () => {
    const { models, file } = setup({
      experiments: [
        { ...EXPERIMENTS.experiments[1], variants: [{ name: 'a' }, { name: 'b', settings: { bundle: 'v9' } }] },
      ],
    });
    await expect(startTestServer(models, { experiments: file })).rejects.toThrow(
      /experiment "model", variant "b": bundle: no version "v9"/,
    );
  });
});

describe('a promotion policy experiment', () => {
  it("shows what each variant's policy says, and refuses an offer the catalogue lacks", async () => {
    const dir = tempDir();
    const promotions = join(dir, 'promotions.csv');
    writeFileSync(promotions, 'id,kind,value\nTEN,percent_off,10\nTWENTY,percent_off,20\n');
    const variants = [
      { name: 'bandit', settings: { promotion: 'thompson' } },
      { name: 'nothing', settings: { promotion: 'none' } },
      { name: 'ten', settings: { promotion: 'fixed:TEN' } },
    ];
    const { models, file } = setup({ experiments: [{ name: 'offers', salt: 'o1', variants }] });
    const server = await startTestServer(models, { clock: 'bundle', adminToken: TOKEN, experiments: file, promotions });
    try {
      const shown: Record<string, Set<string>> = { bandit: new Set(), nothing: new Set(), ten: new Set() };
      for (let u = 1; u <= 60; u++) {
        const r = (await httpCall(server.port, 'promotion', { id: 1, user: `u${u}` })).reply as Reply & {
          experiments: Record<string, string>;
          result: { promotions: { id: string }[] };
        };
        expect(r.error).toBeUndefined();
        shown[r.experiments.offers].add(r.result.promotions.map((p) => p.id).join('+') || 'nothing');
      }
      expect([...shown.nothing]).toEqual(['nothing']);
      expect([...shown.ten]).toEqual(['TEN']);
      expect(shown.bandit.size).toBeGreaterThan(0);
      // Recommendations are not in this experiment: they name its variant but count no exposure.
      await recommend(server, 'u1');
      const report = (await reports(server))[0];
      expect(report.variants.reduce((s, v) => s + v.exposures, 0)).toBe(60);
      // A new catalogue without TEN fails the reload (the experiment still names it), and the
      // catalogue in use stays: the variant still shows TEN.
      writeFileSync(promotions, 'id,kind,value\nTWENTY,percent_off,20\n');
      const res = await fetch(`http://127.0.0.1:${server.port}/admin/reload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res.status).toBe(400);
      const ten = await firstIn(server, 'offers', 'ten');
      const offer = (await httpCall(server.port, 'promotion', { id: 2, user: ten })).reply.result as {
        promotions: { id: string }[];
      };
      expect(offer.promotions.map((p) => p.id)).toEqual(['TEN']);
    } finally {
      await server.shutdown();
    }
    writeFileSync(promotions, 'id,kind,value\nTEN,percent_off,10\nTWENTY,percent_off,20\n');
    const wrong = setup({
      experiments: [
        { name: 'offers', salt: 'o1', variants: [variants[0], { name: 'x', settings: { promotion: 'fixed:FIFTY' } }] },
      ],
    });
    await expect(startTestServer(wrong.models, { experiments: wrong.file, promotions })).rejects.toThrow(
      /variant "x": promotion: "FIFTY" is not in the promotion catalogue/,
    );
  });
});
