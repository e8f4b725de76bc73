/** Small dense linear algebra on row-major Float64Arrays, for the d×d systems of ALS and its fold-in. */

/**
 * Solves A x = b for symmetric positive definite A (n×n) by Cholesky; A and b are overwritten
 * (A with its factor, b with x). Throws if A is not positive definite.
 */
export function choleskySolveInPlace(A: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let s = A[rj + j];
    for (let k = 0; k < j; k++) s -= A[rj + k] * A[rj + k];
    if (!(s > 0)) throw new Error(`matrix is not positive definite (pivot ${j} = ${s})`);
    const d = Math.sqrt(s);
    A[rj + j] = d;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let t = A[ri + j];
      for (let k = 0; k < j; k++) t -= A[ri + k] * A[rj + k];
      A[ri + j] = t / d;
    }
  }
  for (let i = 0; i < n; i++) {
    let t = b[i];
    const ri = i * n;
    for (let k = 0; k < i; k++) t -= A[ri + k] * b[k];
    b[i] = t / A[ri + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let t = b[i];
    for (let k = i + 1; k < n; k++) t -= A[k * n + i] * b[k];
    b[i] = t / A[i * n + i];
  }
  return b;
}

/** G = Yᵀ Y for Y with `rows` rows of `d` floats (row-major). */
export function gram(Y: Float32Array, rows: number, d: number): Float64Array {
  const G = new Float64Array(d * d);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    for (let a = 0; a < d; a++) {
      const ya = Y[o + a];
      if (ya === 0) continue;
      const ga = a * d;
      for (let b = a; b < d; b++) G[ga + b] += ya * Y[o + b];
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) G[a * d + b] = G[b * d + a];
  return G;
}

export function dot(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[ao + k] * b[bo + k];
  return s;
}

/**
 * Inverse of a symmetric positive definite n×n matrix (row-major, overwritten) via Cholesky:
 * A = L Lᵀ, A⁻¹ = L⁻ᵀ L⁻¹. About n³ multiply-adds; fine up to a few thousand rows in JS.
 */
export function invertSpdInPlace(A: Float64Array, n: number): Float64Array {
  // Cholesky, lower triangle, row-oriented so inner loops run over contiguous memory.
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = A[ri + j];
      for (let k = 0; k < j; k++) s -= A[ri + k] * A[rj + k];
      if (i === j) {
        if (!(s > 0)) throw new Error(`matrix is not positive definite (pivot ${i} = ${s})`);
        A[ri + i] = Math.sqrt(s);
      } else A[ri + j] = s / A[rj + j];
    }
  }
  // W = L⁻¹ (lower), computed row by row: W[i][j] = -(sum_{k=j}^{i-1} L[i][k] W[k][j]) / L[i][i].
  const W = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const lii = A[ri + i];
    W[ri + i] = 1 / lii;
    for (let k = 0; k < i; k++) {
      const lik = A[ri + k];
      if (lik === 0) continue;
      const rk = k * n;
      for (let j = 0; j <= k; j++) W[ri + j] -= lik * W[rk + j];
    }
    for (let j = 0; j < i; j++) W[ri + j] /= lii;
  }
  // A⁻¹ = Wᵀ W: (A⁻¹)[a][b] = sum_{k >= max(a,b)} W[k][a] W[k][b]; accumulate row by row of W.
  A.fill(0);
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    for (let a = 0; a <= k; a++) {
      const wa = W[rk + a];
      if (wa === 0) continue;
      const ra = a * n;
      for (let b = 0; b <= a; b++) A[ra + b] += wa * W[rk + b];
    }
  }
  for (let a = 0; a < n; a++) for (let b = 0; b < a; b++) A[b * n + a] = A[a * n + b];
  return A;
}
