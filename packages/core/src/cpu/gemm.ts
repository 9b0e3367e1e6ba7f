// The matmul kernel: C += A·B on contiguous row-major blocks, register-blocked four rows at a time.

const COLUMN_BLOCK = 256;
const DEPTH_BLOCK = 128;

/**
 * C[m×n] += A[m×k] · B[k×n]. Four rows of C are updated per sweep of a row of B, so each B
 * element loaded serves four multiply-adds; blocks of 128×256 of B stay in L2 cache.
 */
export function gemm(
  a: Float32Array | Float64Array,
  b: Float32Array | Float64Array,
  c: Float32Array | Float64Array,
  m: number,
  k: number,
  n: number,
): void {
  for (let j0 = 0; j0 < n; j0 += COLUMN_BLOCK) {
    const j1 = Math.min(n, j0 + COLUMN_BLOCK);
    for (let p0 = 0; p0 < k; p0 += DEPTH_BLOCK) {
      const p1 = Math.min(k, p0 + DEPTH_BLOCK);
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        const r0 = i * n;
        const r1 = r0 + n;
        const r2 = r1 + n;
        const r3 = r2 + n;
        for (let p = p0; p < p1; p++) {
          const a0 = a[i * k + p];
          const a1 = a[(i + 1) * k + p];
          const a2 = a[(i + 2) * k + p];
          const a3 = a[(i + 3) * k + p];
          const bRow = p * n;
          for (let j = j0; j < j1; j++) {
            const bv = b[bRow + j];
            c[r0 + j] += a0 * bv;
            c[r1 + j] += a1 * bv;
            c[r2 + j] += a2 * bv;
            c[r3 + j] += a3 * bv;
          }
        }
      }
      for (; i < m; i++) {
        const row = i * n;
        for (let p = p0; p < p1; p++) {
          const av = a[i * k + p];
          const bRow = p * n;
          for (let j = j0; j < j1; j++) c[row + j] += av * b[bRow + j];
        }
      }
    }
  }
}
