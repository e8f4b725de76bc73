import { transpose, type UserItems } from '../data/interactions.js';
import { topK } from '../util/topk.js';
import type { ItemNeighbours } from '../model/knn.js';

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
  const indptr = new Int32Array(n + 1);
  const nbrs: number[] = [];
  const sims: number[] = [];
  const exclude = new Uint8Array(n);
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
    exclude[i] = 1;
    const best =
      touched.length <= k ? Int32Array.from(touched).sort((a, b) => co[b] - co[a] || a - b) : topK(co, k, exclude);
    exclude[i] = 0;
    for (const j of best) {
      if (co[j] <= 0) break;
      nbrs.push(j);
      sims.push(co[j]);
    }
    indptr[i + 1] = nbrs.length;
    for (const j of touched) co[j] = 0;
  }
  return { numItems: n, k, indptr, neighbours: Int32Array.from(nbrs), similarity: Float32Array.from(sims) };
}
