import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readBundle } from '../../src/bundle/read.js';
import { itemsOf } from '../../src/data/interactions.js';
import { EVENT_TYPES } from '../../src/protocol/calls.js';
import { VERB } from '../../src/rank/explain.js';
import type { VitrineServer } from '../../src/serve/server.js';
import { TestClient } from '../helpers/client.js';
import { items, startTestServer } from '../helpers/server.js';

/**
 * "Buy it again": on the synthetic shop about half of later activity returns to an item, so its
 * bundle's ranker learns the repeat features, and a request may let the shopper's own items back.
 */
describe('buy it again, and never again', () => {
  const bundle = inject('fixtureBundle');
  let server: VitrineServer;
  let client: TestClient;
  let own: (user: string) => Set<string>;
  /** How the bundle's history says the shopper last touched an item. */
  let lastType: (user: string, item: string) => string;
  /** Shoppers with the longest histories, and some with shorter ones. */
  let users: string[];

  beforeAll(async () => {
    const data = readBundle(bundle);
    own = (user) => new Set(Array.from(itemsOf(data.history.ui, data.userIds.indexOf(user)), (i) => data.items[i].id));
    expect(data.manifest.parameters.ranker).toMatchObject({ repeats: { learnt: true } });
    const ui = data.history.ui;
    lastType = (user, item) => {
      const u = data.userIds.indexOf(user);
      for (let p = ui.indptr[u]; p < ui.indptr[u + 1]; p++)
        if (data.items[ui.items[p]].id === item) return EVENT_TYPES[ui.lastType[p]];
      return '';
    };
    const byLength = data.userIds
      .map((id, u) => ({ id, n: ui.indptr[u + 1] - ui.indptr[u] }))
      .filter((x) => x.n >= 3)
      .sort((a, b) => b.n - a.n);
    users = [0, 1, 2, byLength.length >> 1, byLength.length - 1].map((j) => byLength[j].id);
    expect(data.retrieval.ownCandidates).toBeGreaterThan(0);
    server = await startTestServer(bundle);
    client = await TestClient.connect(`ws://127.0.0.1:${server.port}/ws`);
  });

  afterAll(async () => {
    await client?.close();
    await server?.shutdown();
  });

  it("lists only the shopper's own items with onlySeen, best first, and says why", async () => {
    let bought = 0;
    for (const user of users) {
      const mine = own(user);
      expect(mine.size).toBeGreaterThanOrEqual(3);
      const reply = await client.request({
        call: 'recommend',
        user,
        k: 10,
        explain: true,
        filters: { onlySeen: true },
      });
      const list = items(reply);
      expect(list.length).toBe(Math.min(10, mine.size));
      for (const x of list) {
        expect(mine.has(x.id), `${user}: ${x.id}`).toBe(true);
        expect(x.stage).toBe('history');
        // Said as the bundle's history has it: "you bought it before" for a purchase.
        expect(x.explanation).toBe(`you ${VERB[lastType(user, x.id)]} it before`);
        if (lastType(user, x.id) === 'purchase') bought++;
      }
      for (let r = 1; r < list.length; r++) expect(list[r].score!).toBeLessThanOrEqual(list[r - 1].score!);
      // Each scored as in the open list (excludeSeen false), where training placed own items.
      const open = items(await client.request({ call: 'recommend', user, k: 200, filters: { excludeSeen: false } }));
      const scoreIn = new Map(open.map((x) => [x.id, x.score]));
      const both = list.filter((x) => scoreIn.has(x.id));
      expect(both.length).toBeGreaterThan(0);
      for (const x of both) expect(x.score, `${user} ${x.id}`).toBeCloseTo(scoreIn.get(x.id)!, 6);
    }
    // Measured: 6 of these shoppers' listed items were last bought (the rest viewed or carted).
    expect(bought).toBeGreaterThan(0);
  });

  it('refuses onlySeen where there is no shopper (similar, boughtTogether)', async () => {
    for (const body of [
      { call: 'similar', item: 'i3' },
      { call: 'boughtTogether', items: ['i3'] },
    ]) {
      const r = await client.request({ ...body, filters: { onlySeen: true } });
      expect(r.error?.code).toBe('invalid_field');
      expect(r.error?.message).toMatch(/filters\.onlySeen.*has no shopper/);
    }
  });

  it('takes a request history without times as touched in list order, not as one basket', async () => {
    const history = [...own(users[0])].slice(0, 12);
    const plain = items(await client.request({ call: 'recommend', history, k: 10 }));
    // What the server does with them: one second apart, the last now.
    const t = Date.now() / 1000 - (history.length - 1);
    const timed = items(
      await client.request({ call: 'recommend', history: history.map((item, j) => ({ item, ts: t + j })), k: 10 }),
    );
    const together = items(
      await client.request({ call: 'recommend', history: history.map((item) => ({ item, ts: t })), k: 10 }),
    );
    // One basket ranks differently: the list order is information the plain ids carry.
    expect(together.map((x) => x.id)).not.toEqual(plain.map((x) => x.id));
    expect(plain.map((x) => x.id)).toEqual(timed.map((x) => x.id));
  });

  it('mixes own items with new ones when excludeSeen is false, and keeps them out by default', async () => {
    let ownShown = 0;
    for (const user of users) {
      const mine = own(user);
      const open = items(await client.request({ call: 'recommend', user, k: 10, filters: { excludeSeen: false } }));
      ownShown += open.filter((x) => mine.has(x.id)).length;
      for (const x of open) expect(x.stage === 'history', x.id).toBe(mine.has(x.id));
      const closed = items(await client.request({ call: 'recommend', user, k: 10 }));
      expect(closed.some((x) => mine.has(x.id) || x.stage === 'history')).toBe(false);
    }
    // Measured: 41 of the 50 items shown to these five shoppers were their own.
    expect(ownShown).toBeGreaterThan(0);
  });

  it('refuses onlySeen together with excludeSeen true, naming the field', async () => {
    const r = await client.request({
      call: 'recommend',
      user: users[0],
      filters: { onlySeen: true, excludeSeen: true },
    });
    expect(r.error?.code).toBe('invalid_field');
    expect(r.error?.message).toContain('filters.onlySeen');
  });

  it("never again: a disliked or returned item leaves the shopper's lists, from the request or streamed", async () => {
    const user = users[1];
    const top = items(await client.request({ call: 'recommend', user, k: 5 }))[0].id;
    const history = [...own(user)].slice(0, 3);
    const anon = items(await client.request({ call: 'recommend', history, k: 5 }))[0].id;
    const without = items(
      await client.request({ call: 'recommend', history: [...history, { item: anon, type: 'dislike' }], k: 20 }),
    );
    expect(without.map((x) => x.id)).not.toContain(anon);

    const mine = items(await client.request({ call: 'recommend', user, k: 20, filters: { onlySeen: true } }));
    const back = mine[0].id;
    for (const [item, type] of [
      [top, 'dislike'],
      [back, 'return'],
    ]) {
      const r = await client.request({ call: 'event', user, item, type });
      expect(r.error, JSON.stringify(r.error)).toBeUndefined();
    }
    const after = items(await client.request({ call: 'recommend', user, k: 20 }));
    expect(after.map((x) => x.id)).not.toContain(top);
    const again = items(await client.request({ call: 'recommend', user, k: 20, filters: { onlySeen: true } }));
    expect(again.map((x) => x.id)).not.toContain(back);
    expect(again.length).toBe(Math.min(20, own(user).size - 1));
    // The store keeps a shopper's latest 200 events; "never again" outlives them.
    const others = [...own(users[2])].filter((i) => i !== top && i !== back);
    await Promise.all(
      Array.from({ length: 210 }, (_, j) =>
        client.request({ call: 'event', user, item: others[j % others.length], type: 'view' }),
      ),
    );
    const later = items(await client.request({ call: 'recommend', user, k: 50, filters: { excludeSeen: false } }));
    expect(later.length).toBe(50);
    expect(later.map((x) => x.id)).not.toContain(top);
    expect(later.map((x) => x.id)).not.toContain(back);
  });
});
