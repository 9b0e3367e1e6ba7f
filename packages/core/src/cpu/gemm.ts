// The matmul kernel: C += A·B on contiguous row-major arrays, packed into panels for a 4×4 register tile.

/** Rows of A (and of C) per register tile. */
const TILE_ROWS = 4;
/** Columns of B (and of C) per register tile. */
const TILE_COLUMNS = 4;
/** Depth of a packed block: a 4-row and a 4-column panel of 256 doubles each fit in L1 together. */
const DEPTH_BLOCK = 256;
/** Rows of A packed at a time: 64×256 doubles (128 KB) stay in L2 while every column panel sweeps them. */
const ROW_BLOCK = 64;

// Packing buffers, reused across calls and grown when a larger block comes.
let packedA = new Float64Array(0);
let packedB = new Float64Array(0);

/** Packs rows p0…p0+depth of B (k×n) into 4-column panels, depth-major, zero-padded past column n. */
function packColumns(b: Float32Array | Float64Array, n: number, p0: number, depth: number): void {
  const panels = Math.ceil(n / TILE_COLUMNS);
  if (packedB.length < panels * depth * TILE_COLUMNS)
    packedB = new Float64Array(panels * depth * TILE_COLUMNS);
  for (let q = 0; q < panels; q++) {
    const j0 = q * TILE_COLUMNS;
    const width = Math.min(TILE_COLUMNS, n - j0);
    let o = q * depth * TILE_COLUMNS;
    for (let p = p0; p < p0 + depth; p++, o += TILE_COLUMNS) {
      const row = p * n + j0;
      for (let j = 0; j < TILE_COLUMNS; j++) packedB[o + j] = j < width ? b[row + j] : 0;
    }
  }
}

/** Packs rows i0…i0+rows, columns p0…p0+depth of A (m×k) into 4-row panels, depth-major, zero-padded. */
function packRows(
  a: Float32Array | Float64Array,
  k: number,
  i0: number,
  rows: number,
  p0: number,
  depth: number,
): void {
  const panels = Math.ceil(rows / TILE_ROWS);
  if (packedA.length < panels * depth * TILE_ROWS) packedA = new Float64Array(panels * depth * TILE_ROWS);
  for (let t = 0; t < panels * TILE_ROWS; t++) {
    let o = Math.floor(t / TILE_ROWS) * depth * TILE_ROWS + (t % TILE_ROWS);
    const row = (i0 + t) * k;
    const valid = t < rows;
    for (let p = p0; p < p0 + depth; p++, o += TILE_ROWS) packedA[o] = valid ? a[row + p] : 0;
  }
}

/**
 * C[m×n] += A[m×k] · B[k×n]. Blocks of A and B are packed into 4-row and 4-column panels of
 * float64, so the hot loop reads one array type whatever the dtype; each 4×4 tile of C is held
 * in 16 local variables across a whole depth block, and each element sums its products in
 * ascending k. In float64 that is exactly the naive triple loop; float32 results round once per
 * depth block instead of once per product (closer to the exact sum).
 */
export function gemm(
  a: Float32Array | Float64Array,
  b: Float32Array | Float64Array,
  c: Float32Array | Float64Array,
  m: number,
  k: number,
  n: number,
): void {
  const columnPanels = Math.ceil(n / TILE_COLUMNS);
  for (let p0 = 0; p0 < k; p0 += DEPTH_BLOCK) {
    const depth = Math.min(DEPTH_BLOCK, k - p0);
    packColumns(b, n, p0, depth);
    for (let i0 = 0; i0 < m; i0 += ROW_BLOCK) {
      const rows = Math.min(ROW_BLOCK, m - i0);
      packRows(a, k, i0, rows, p0, depth);
      for (let q = 0; q < columnPanels; q++) {
        for (let r = 0; r * TILE_ROWS < rows; r++) {
          const i = i0 + r * TILE_ROWS;
          const j = q * TILE_COLUMNS;
          if (i + TILE_ROWS <= m && j + TILE_COLUMNS <= n) {
            tile(c, i * n + j, n, depth, r * depth * TILE_ROWS, q * depth * TILE_COLUMNS);
          } else {
            edgeTile(c, i, j, m, n, depth, r * depth * TILE_ROWS, q * depth * TILE_COLUMNS);
          }
        }
      }
    }
  }
}

/** C[o…] += (packed row panel at ao) · (packed column panel at bo), a full 4×4 tile at offset o, row stride n. */
// biome-ignore format: the 16 accumulators read as the 4×4 tile they are
function tile(c: Float32Array | Float64Array, o: number, n: number, depth: number, ao: number, bo: number): void {
  const a = packedA;
  const b = packedB;
  const o1 = o + n;
  const o2 = o1 + n;
  const o3 = o2 + n;
  let c00 = c[o],  c01 = c[o + 1],  c02 = c[o + 2],  c03 = c[o + 3];
  let c10 = c[o1], c11 = c[o1 + 1], c12 = c[o1 + 2], c13 = c[o1 + 3];
  let c20 = c[o2], c21 = c[o2 + 1], c22 = c[o2 + 2], c23 = c[o2 + 3];
  let c30 = c[o3], c31 = c[o3 + 1], c32 = c[o3 + 2], c33 = c[o3 + 3];
  for (const end = ao + depth * TILE_ROWS; ao < end; ao += TILE_ROWS, bo += TILE_COLUMNS) {
    const a0 = a[ao], a1 = a[ao + 1], a2 = a[ao + 2], a3 = a[ao + 3];
    const b0 = b[bo], b1 = b[bo + 1], b2 = b[bo + 2], b3 = b[bo + 3];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
  }
  c[o] = c00;  c[o + 1] = c01;  c[o + 2] = c02;  c[o + 3] = c03;
  c[o1] = c10; c[o1 + 1] = c11; c[o1 + 2] = c12; c[o1 + 3] = c13;
  c[o2] = c20; c[o2 + 1] = c21; c[o2 + 2] = c22; c[o2 + 3] = c23;
  c[o3] = c30; c[o3 + 1] = c31; c[o3 + 2] = c32; c[o3 + 3] = c33;
}

/** A tile cut by the edge of C: the valid elements only, one at a time (rare: the last row or column panel). */
function edgeTile(
  c: Float32Array | Float64Array,
  i0: number,
  j0: number,
  m: number,
  n: number,
  depth: number,
  ao: number,
  bo: number,
): void {
  for (let t = 0; t < TILE_ROWS && i0 + t < m; t++) {
    for (let j = 0; j < TILE_COLUMNS && j0 + j < n; j++) {
      let sum = c[(i0 + t) * n + j0 + j];
      for (let p = 0; p < depth; p++)
        sum += packedA[ao + p * TILE_ROWS + t] * packedB[bo + p * TILE_COLUMNS + j];
      c[(i0 + t) * n + j0 + j] = sum;
    }
  }
}
