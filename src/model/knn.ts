/** Each item's nearest neighbours by cosine over user sets, in CSR form: the item-kNN model. */
export interface ItemNeighbours {
  numItems: number;
  k: number;
  indptr: Int32Array;
  neighbours: Int32Array;
  similarity: Float32Array;
}

/** Adds sum over history items of similarity(history item, j) into `out` (length numItems). */
export function knnScores(
  model: ItemNeighbours,
  history: ArrayLike<number>,
  out: Float32Array,
  weights?: ArrayLike<number>,
): Float32Array {
  out.fill(0);
  for (let h = 0; h < history.length; h++) {
    const i = history[h];
    const w = weights ? weights[h] : 1;
    for (let p = model.indptr[i]; p < model.indptr[i + 1]; p++) out[model.neighbours[p]] += w * model.similarity[p];
  }
  return out;
}

/** Similarity of two items, 0 when j is not among i's kept neighbours. */
export function knnSimilarity(model: ItemNeighbours, i: number, j: number): number {
  for (let p = model.indptr[i]; p < model.indptr[i + 1]; p++) if (model.neighbours[p] === j) return model.similarity[p];
  return 0;
}
