import { transpose, type UserItems } from '../data/interactions.js';
import type { ItemNeighbours } from '../model/knn.js';
import { StrongestRows } from './strongest-rows.js';

/**
 * Cosine item-item similarity (co-occurrence / sqrt(n_i n_j)) keeping the top `k` per item, with an
 * optional shrinkage term that damps similarities resting on few shared users.
 */
export function trainItemKnn(ui: UserItems, k: number, shrink = 0): ItemNeighbours {
  const n = ui.numItems;
  const t = transpose(ui);
  const norm = new Float64Array(n);
  for (let i = 0; i < n; i++) norm[i] = Math.sqrt(t.indptr[i + 1] - t.indptr[i]);
  const co = new Float32Array(n);
  const touched: number[] = [];
  const rows = new StrongestRows(n, k);
  for (let i = 0; i < n; i++) {
    touched.length = 0;
    for (let q = t.indptr[i]; q < t.indptr[i + 1]; q++) {
      const u = t.users[q];
      for (let p = ui.indptr[u]; p < ui.indptr[u + 1]; p++) {
        const j = ui.items[p];
        if (j === i) continue;
        if (co[j] === 0) touched.push(j);
        co[j]++;
      }
    }
    // Turn counts into cosine similarities only where there is co-occurrence.
    for (const j of touched) co[j] = co[j] / (norm[i] * norm[j] + shrink);
    rows.add(i, co, touched);
    for (const j of touched) co[j] = 0;
  }
  return rows.done();
}
