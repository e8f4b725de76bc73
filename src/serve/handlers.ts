import { affinityShares, profileVector, rawRfm } from '../features/profile.js';
import { emptyHistory, historyOf, recentFirst, type UserHistory } from '../features/history.js';
import type { RecModel } from '../rank/model.js';
import { recommend, userVector, type Stage } from '../rank/recommend.js';
import { retrieve, type Retrieved } from '../index/retrieve.js';
import { ItemAccumulator } from '../util/item-accumulator.js';
import { assignSegment } from '../train/segments.js';
import { dot } from '../util/linalg.js';
import { DEFAULT_FILTERS, type Call, type Filters, type HistoryEntry, type ItemDescription } from './protocol.js';

/** An event the server received after the bundle was built, kept per user and sent along with requests. */
export interface OverlayEvent {
  item: string;
  type: string;
  ts: number;
  price?: number;
  quantity?: number;
}

export interface Task {
  call: Exclude<Call, { call: 'event' }>;
  /** Streamed events of the request's user since the bundle was built, oldest first. */
  overlay?: OverlayEvent[];
  /** Request time, Unix seconds. */
  now: number;
}

export interface ResultItem {
  id: string;
  score: number | null;
  stage: Stage | 'rules' | 'similar';
  explanation?: string;
}

interface ResolvedUser {
  history: UserHistory;
  vector?: Float32Array;
  attrs?: RecModel['data']['users'][number];
  known: boolean;
  index: number;
  /** Ids in the request history or overlay that the catalogue does not know (ignored). */
  unknownItems: string[];
  /** How each history item was last touched, for explanations. */
  lastType: Map<number, string>;
}

const VERB: Record<string, string> = { view: 'viewed', click: 'clicked', cart: 'added to your cart', purchase: 'bought', rate: 'rated' };

/**
 * The calls a worker answers, over one instantiated model. Pure request → result functions: the
 * worker wraps them, and tests can drive them directly.
 */
export class Handlers {
  /**
   * Zeroed exclusion masks ready for reuse. One per request in flight: a worker interleaves
   * requests at the ranker's await, so a request must never share its mask with another.
   */
  private readonly freeMasks: Uint8Array[] = [];
  /** Scratch for nearestInHistory: the best kNN similarity so far per item being explained. */
  private readonly nearestSims = new ItemAccumulator(1, 512);
  private readonly unavailable: Uint8Array;

  constructor(readonly model: RecModel) {
    this.unavailable = Uint8Array.from(model.catalog.available, (a) => (a ? 0 : 1));
  }

  get version(): string {
    return this.model.data.manifest.version;
  }

  async run(task: Task): Promise<unknown> {
    const c = task.call;
    switch (c.call) {
      case 'recommend':
        return this.recommend(c, task);
      case 'similar':
        return this.similar(c);
      case 'boughtTogether':
        return this.boughtTogether(c);
      case 'score':
        return this.score(c, task);
      case 'profile':
        return this.profile(c, task);
    }
  }

  /** Bundle history, plus streamed events and any history the request carries. */
  private resolveUser(user: string | undefined, history: HistoryEntry[] | undefined, overlay: OverlayEvent[] | undefined, now: number): ResolvedUser {
    const m = this.model;
    const index = user !== undefined ? m.userIndex.indexOf(user) : -1;
    const base = index >= 0 ? historyOf(m.data.history.ui, m.data.history.totals, index) : emptyHistory();
    const extra: { item: string; type: string; ts: number; spend: number }[] = [];
    for (const e of overlay ?? []) extra.push({ item: e.item, type: e.type, ts: e.ts, spend: e.type === 'purchase' && e.price !== undefined ? e.price * (e.quantity ?? 1) : 0 });
    for (const e of history ?? []) extra.push({ item: e.item, type: e.type ?? 'view', ts: e.ts ?? now, spend: 0 });
    const lastType = new Map<number, string>();
    if (extra.length === 0) {
      const stored = index >= 0 && base.items.length > 0 ? m.data.als.userFactors.subarray(index * m.data.als.factors, (index + 1) * m.data.als.factors) : undefined;
      return { history: base, vector: stored, attrs: index >= 0 ? m.data.users[index] : undefined, known: index >= 0, index, unknownItems: [], lastType };
    }
    const pos = new Map<number, number>();
    const items = Array.from(base.items);
    const counts = Array.from(base.counts);
    const lastTime = Array.from(base.lastTime);
    items.forEach((i, j) => pos.set(i, j));
    const unknownItems: string[] = [];
    let events = base.events;
    let spend = base.spend;
    let lastEventTime = base.lastEventTime;
    for (const e of extra) {
      const i = m.itemIndex.indexOf(e.item);
      if (i < 0) {
        if (unknownItems.length < 20) unknownItems.push(e.item);
        continue;
      }
      const j = pos.get(i);
      if (j === undefined) {
        pos.set(i, items.length);
        items.push(i);
        counts.push(1);
        lastTime.push(e.ts);
      } else {
        counts[j]++;
        lastTime[j] = Math.max(lastTime[j], e.ts);
      }
      lastType.set(i, e.type);
      events++;
      spend += e.spend;
      if (!(lastEventTime >= e.ts)) lastEventTime = e.ts;
    }
    const merged: UserHistory = { items: Int32Array.from(items), counts: Float32Array.from(counts), lastTime: Float64Array.from(lastTime), events, spend, lastEventTime };
    return { history: merged, vector: undefined, attrs: index >= 0 ? m.data.users[index] : undefined, known: index >= 0, index, unknownItems, lastType };
  }

  /** A mask (nonzero = excluded) of what the filters rule out, for this request alone; `release` returns it. */
  private applyFilters(f: Filters, seen: ArrayLike<number>, also: ArrayLike<number> = []): { mask: Uint8Array; release: () => void } {
    const m = this.model;
    const n = m.catalog.numItems;
    const mask = this.freeMasks.pop() ?? new Uint8Array(n);
    if (f.availableOnly) mask.set(this.unavailable);
    if (f.categories !== undefined || f.priceMin !== undefined || f.priceMax !== undefined) {
      // An unknown name matches nothing (not the uncategorised items, whose index is also -1).
      const cats = f.categories ? new Set(f.categories.map((c) => m.catalog.categoryNames.indexOf(c)).filter((c) => c >= 0)) : undefined;
      for (let i = 0; i < n; i++) {
        if (cats && !cats.has(m.catalog.category[i])) mask[i] = 1;
        const p = m.catalog.price[i];
        if (f.priceMin !== undefined && !(p >= f.priceMin)) mask[i] = 1;
        if (f.priceMax !== undefined && !(p <= f.priceMax)) mask[i] = 1;
      }
    }
    if (f.excludeSeen) for (let j = 0; j < seen.length; j++) mask[seen[j]] = 1;
    for (const id of f.exclude ?? []) {
      const i = m.itemIndex.indexOf(id);
      if (i >= 0) mask[i] = 1;
    }
    for (let j = 0; j < also.length; j++) mask[also[j]] = 1;
    const release = (): void => {
      mask.fill(0);
      this.freeMasks.push(mask);
    };
    return { mask, release };
  }

  private async recommend(c: Extract<Call, { call: 'recommend' }>, task: Task): Promise<unknown> {
    const m = this.model;
    const u = this.resolveUser(c.user, c.history, task.overlay, task.now);
    const { mask, release } = this.applyFilters(c.filters, u.history.items);
    try {
      const pool = c.diversity > 0 ? Math.min(c.k * 4, m.catalog.numItems) : c.k;
      const ranked = await recommend(m, {
        history: u.history,
        vector: u.vector,
        attrs: u.attrs,
        now: task.now,
        k: pool,
        exclude: mask,
        retrieval: c.candidates !== undefined ? { candidates: c.candidates } : undefined,
        exclusion: c.filters.categories !== undefined || c.filters.priceMin !== undefined || c.filters.priceMax !== undefined ? 'dense' : 'sparse',
      });
      let order = Array.from({ length: ranked.items.length }, (_, r) => r);
      if (c.diversity > 0) order = this.diversify(ranked.items, ranked.scores, c.k, c.diversity);
      const shown = order.slice(0, c.k);
      const recent = recentFirst(u.history, 20);
      const nearest = c.explain ? this.nearestInHistory(shown.filter((r) => ranked.stages[r] !== 'trending').map((r) => ranked.items[r]), recent) : undefined;
      const items: ResultItem[] = shown.map((r) => {
        const i = ranked.items[r];
        const out: ResultItem = { id: m.data.items[i].id, score: Number.isNaN(ranked.scores[r]) ? null : round(ranked.scores[r]), stage: ranked.stages[r] };
        if (c.explain) out.explanation = this.explain(i, ranked.stages[r], nearest, u.lastType);
        return out;
      });
      return { items, user: { known: u.known, coldStart: u.history.items.length === 0, historyLength: u.history.items.length, ...(u.unknownItems.length > 0 && { unknownItems: u.unknownItems }) } };
    } finally {
      release();
    }
  }

  /** Cosine of two items' embeddings (0 when either has none). */
  private cosine(a: number, b: number): number {
    const na = this.model.features.itemNorm(a);
    const nb = this.model.features.itemNorm(b);
    if (na === 0 || nb === 0) return 0;
    const d = this.model.data.als.factors;
    return dot(this.model.data.als.itemFactors, a * d, this.model.data.als.itemFactors, b * d, d) / (na * nb);
  }

  /** Maximal marginal relevance: trade ranker score against embedding similarity to what is already picked. */
  private diversify(items: Int32Array, scores: Float32Array, k: number, diversity: number): number[] {
    const n = items.length;
    const picked: number[] = [];
    const taken = new Uint8Array(n);
    // Each item's highest similarity to anything picked so far, updated with the latest pick only:
    // k × pool cosines in all, instead of k² × pool.
    const maxSim = new Float64Array(n);
    while (picked.length < Math.min(k, n)) {
      let best = -1;
      let bestValue = -Infinity;
      for (let r = 0; r < n; r++) {
        if (taken[r]) continue;
        const rel = Number.isNaN(scores[r]) ? 0 : scores[r];
        const value = (1 - diversity) * rel - diversity * maxSim[r];
        if (value > bestValue) {
          bestValue = value;
          best = r;
        }
      }
      picked.push(best);
      taken[best] = 1;
      for (let r = 0; r < n; r++) if (!taken[r]) maxSim[r] = Math.max(maxSim[r], this.cosine(items[r], items[best]));
    }
    return picked;
  }

  /**
   * For each item, the recent history item most similar to it: the highest item-kNN similarity
   * (the first such in `recent`'s order), else the highest embedding cosine; items with neither
   * are left out; undefined for an empty history. One pass over the history items' neighbour
   * lists serves every item (asking item by item scanned each list once per item: ~35 µs of a
   * 10-item reply).
   */
  private nearestInHistory(items: readonly number[], recent: Int32Array): Map<number, number> | undefined {
    if (recent.length === 0) return undefined;
    const { knn } = this.model.data;
    const sims = this.nearestSims;
    const best = new Map<number, number>();
    for (const i of items) sims.slot(i);
    try {
      for (const h of recent) {
        for (let p = knn.indptr[h]; p < knn.indptr[h + 1]; p++) {
          const a = sims.find(knn.neighbours[p]);
          if (a >= 0 && knn.similarity[p] > sims.values[a]) {
            sims.values[a] = knn.similarity[p];
            best.set(knn.neighbours[p], h);
          }
        }
      }
    } finally {
      sims.clear();
    }
    for (const i of items) {
      if (best.has(i)) continue;
      let bestSim = 0;
      for (const h of recent) {
        const c = this.cosine(h, i);
        if (c > bestSim) {
          bestSim = c;
          best.set(i, h);
        }
      }
    }
    return best;
  }

  /** "Because you viewed X", X from nearestInHistory; trending fill-ins say what trends. */
  private explain(item: number, stage: Stage, nearest: Map<number, number> | undefined, lastType: Map<number, string>): string {
    if (stage === 'trending' || !nearest) return this.trendingReason(item);
    const best = nearest.get(item);
    if (best === undefined) return 'matches your taste profile';
    return `because you ${VERB[lastType.get(best) ?? ''] ?? 'looked at'} ${this.label(best)}`;
  }

  private trendingReason(item: number): string {
    const cat = this.model.catalog.category[item];
    return cat >= 0 ? `trending in ${this.model.catalog.categoryNames[cat]}` : 'trending now';
  }

  /** An item as a shopper would recognise it: its name where the catalogue has one. */
  private label(item: number): string {
    const it = this.model.data.items[item];
    return it.text ? `"${it.text}"` : it.id;
  }

  private similar(c: Extract<Call, { call: 'similar' }>): unknown {
    const m = this.model;
    const d = m.data.als.factors;
    let vector: Float32Array;
    let self = -1;
    let known = true;
    if (typeof c.item === 'string') {
      self = m.itemIndex.indexOf(c.item);
      if (self < 0) return { items: this.trending(c.k, c.filters, []), item: { known: false } };
    } else {
      const desc: ItemDescription = c.item;
      self = m.itemIndex.indexOf(desc.id);
      known = self >= 0;
    }
    // An item nobody interacted with has a zero embedding, which is near nothing: like an unknown
    // item, it is placed among the items that share its category, brand and attributes. Items of a
    // newer catalogue (--catalog) were placed that way when the server started.
    const zero = self < 0 || m.features.itemNorm(self) === 0;
    const placed = zero || self >= m.data.items.length - m.newItems;
    if (!zero) vector = m.data.als.itemFactors.subarray(self * d, (self + 1) * d);
    else {
      const it = self >= 0 ? m.data.items[self] : (c.item as ItemDescription);
      vector = m.placer.place({ category: it.category, brand: it.brand, attributes: it.attributes ?? [] }).vector;
    }
    const because = placed ? 'shares its category, brand or attributes' : `similar to ${this.label(self)}`;
    const { mask, release } = this.applyFilters({ ...c.filters, excludeSeen: false }, [], self >= 0 ? [self] : []);
    try {
      // Inner-product retrieval favours popular items; re-rank a wider pool by cosine for "looks like this".
      const pool = m.hnsw.search(vector, Math.min(c.k * 4, m.catalog.numItems), mask);
      let vn = 0;
      for (let q = 0; q < d; q++) vn += vector[q] ** 2;
      vn = Math.sqrt(vn);
      const scored = Array.from(pool.items, (i, r) => ({ i, s: vn > 0 && this.model.features.itemNorm(i) > 0 ? pool.scores[r] / (vn * this.model.features.itemNorm(i)) : 0 }));
      scored.sort((a, b) => b.s - a.s || a.i - b.i);
      const items: ResultItem[] = scored.slice(0, c.k).map(({ i, s }) => ({ id: m.data.items[i].id, score: round(s), stage: 'similar', explanation: because }));
      if (items.length < c.k) items.push(...this.trending(c.k - items.length, c.filters, [...(self >= 0 ? [self] : []), ...scored.map((x) => x.i)]));
      return { items, item: { known, placedByAttributes: placed } };
    } finally {
      release();
    }
  }

  private boughtTogether(c: Extract<Call, { call: 'boughtTogether' }>): unknown {
    const m = this.model;
    const basket = c.items.map((id) => m.itemIndex.indexOf(id)).filter((i) => i >= 0);
    const { mask, release } = this.applyFilters({ ...c.filters, excludeSeen: false }, [], basket);
    try {
      const best = new Map<number, { conf: number; lift: number; from: number }>();
      const rules = m.data.rules;
      for (const a of basket) {
        for (let p = rules.indptr[a]; p < rules.indptr[a + 1]; p++) {
          const j = rules.consequent[p];
          if (mask[j]) continue;
          const cur = best.get(j);
          if (!cur || rules.confidence[p] > cur.conf) best.set(j, { conf: rules.confidence[p], lift: rules.lift[p], from: a });
        }
      }
      const ranked = [...best.entries()].sort((x, y) => y[1].conf - x[1].conf || y[1].lift - x[1].lift || x[0] - y[0]).slice(0, c.k);
      const items: ResultItem[] = ranked.map(([j, r]) => ({
        id: m.data.items[j].id,
        score: round(r.conf),
        stage: 'rules',
        explanation: `bought with ${this.label(r.from)} (confidence ${r.conf.toFixed(2)}, lift ${r.lift.toFixed(1)})`,
      }));
      if (items.length < c.k) {
        // Too few rules: fall back to co-occurrence neighbours, then to what is trending.
        const taken = new Set(ranked.map(([j]) => j));
        const knn = m.data.knn;
        const sims = new Map<number, number>();
        for (const a of basket) for (let p = knn.indptr[a]; p < knn.indptr[a + 1]; p++) {
          const j = knn.neighbours[p];
          if (!mask[j] && !taken.has(j)) sims.set(j, (sims.get(j) ?? 0) + knn.similarity[p]);
        }
        for (const [j, s] of [...sims.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0]).slice(0, c.k - items.length)) {
          items.push({ id: m.data.items[j].id, score: round(s), stage: 'item-knn', explanation: 'often chosen by the same shoppers' });
          taken.add(j);
        }
        if (items.length < c.k) items.push(...this.trending(c.k - items.length, c.filters, [...basket, ...taken]));
      }
      return { items, basket: { known: basket.length, unknown: c.items.length - basket.length } };
    } finally {
      release();
    }
  }

  private trending(k: number, f: Filters, skip: number[]): ResultItem[] {
    const m = this.model;
    const { mask, release } = this.applyFilters({ ...f, excludeSeen: false }, [], skip);
    try {
      const out: ResultItem[] = [];
      for (const i of m.trendingOrder) {
        if (out.length >= k) break;
        if (mask[i]) continue;
        out.push({ id: m.data.items[i].id, score: null, stage: 'trending', explanation: this.trendingReason(i) });
      }
      return out;
    } finally {
      release();
    }
  }

  private async score(c: Extract<Call, { call: 'score' }>, task: Task): Promise<unknown> {
    const m = this.model;
    const u = this.resolveUser(c.user, c.history, task.overlay, task.now);
    const vector = userVector(m, u.history, u.vector);
    const ids = c.items;
    const idx = ids.map((id) => m.itemIndex.indexOf(id));
    const known = idx.filter((i) => i >= 0);
    const probs = new Map<number, number>();
    if (vector && known.length > 0) {
      // Each item is ranked where `recommend` (default filters, same candidates) would retrieve it, or just past the
      // end of that list, so an item's probability is the one `recommend` gives it, whatever else
      // is in the request and in what order.
      const { mask, release } = this.applyFilters(DEFAULT_FILTERS, u.history.items);
      let list: Retrieved;
      try {
        const retrieval = c.candidates !== undefined ? { ...m.data.retrieval, candidates: c.candidates } : m.data.retrieval;
        list = retrieve(m.hnsw, m.data.knn, vector, u.history, mask, retrieval, m.scratch);
      } finally {
        release();
      }
      const position = new Map<number, number>();
      list.items.forEach((i, r) => position.set(i, r));
      const rank = known.map((i) => position.get(i) ?? list.items.length);
      const rows = new Float32Array(known.length * m.features.width);
      m.features.build({ history: u.history, vector, attrs: u.attrs, now: task.now }, known, rows, { size: list.items.length, rank });
      const p = await m.ranker.score(rows, known.length);
      known.forEach((i, r) => probs.set(i, p[r]));
    }
    const nearest = this.nearestInHistory([...probs.keys()], recentFirst(u.history, 20));
    return {
      items: ids.map((id, r) => {
        const i = idx[r];
        if (i < 0) return { id, score: null, known: false, explanation: 'not in this bundle\'s catalogue' };
        // A cold-start user has no vector and so no ranker score.
        const s = probs.get(i);
        if (s === undefined) return { id, score: null, known: true, explanation: 'no history yet, so no purchase probability' };
        return { id, score: round(s), known: true, stage: 'ranker', explanation: this.explain(i, 'hnsw', nearest, u.lastType) };
      }),
      user: { known: u.known, coldStart: u.history.items.length === 0 },
    };
  }

  private profile(c: Extract<Call, { call: 'profile' }>, task: Task): unknown {
    const m = this.model;
    const u = this.resolveUser(c.user, c.history, task.overlay, task.now);
    const seg = m.data.segments;
    const rfm = rawRfm(u.history, task.now);
    const segment = u.history.items.length > 0 ? assignSegment(seg, profileVector(u.history, task.now, m.catalog, seg.spec)) : -1;
    const shares = affinityShares(u.history, m.catalog, seg.spec);
    const affinities = seg.spec.affinityNames.map((name, j) => ({ name, share: round(shares[j]) })).filter((a) => a.share > 0).sort((a, b) => b.share - a.share).slice(0, 5);
    return {
      user: { known: u.known, coldStart: u.history.items.length === 0, historyLength: u.history.items.length, events: u.history.events },
      segment: segment >= 0 ? { id: segment, label: seg.labels[segment] } : { id: null, label: 'new shopper (no history with items this bundle knows)' },
      affinities: { kind: seg.spec.affinityKind, top: affinities },
      rfm: { recencyDays: round(Math.expm1(rfm[0])), events: u.history.events, spend: round(u.history.spend) },
      attributes: u.attrs ? { ageBand: u.attrs.ageBand, gender: u.attrs.gender, region: u.attrs.region } : undefined,
    };
  }
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
