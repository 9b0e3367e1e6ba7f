// The float32 matmul kernel in WebAssembly SIMD: the 4×8 micro-kernel, gather/scatter through index tables, packing and blocking.
import { gemm } from "./gemm.ts";
import { instantiateKernelModule, type KernelCall, runOnThreads, threadsFor } from "./thread-pool.ts";
import {
  brIf,
  defineFunction,
  end,
  ensureMemory,
  f32Add,
  f32Load,
  f32Store,
  f32x4Add,
  f32x4Mul,
  i32Add,
  i32Const,
  i32Load,
  i32Mul,
  i32Ne,
  i32Shl,
  i32Sub,
  increment,
  load32Splat,
  localGet,
  localSet,
  loop,
  v128Load,
  v128Store,
} from "./wasm-module.ts";

/** Rows of C per register tile: each is one f32x4 splat of A times the tile's B vectors. */
const TILE_ROWS = 4;
/** f32x4 vectors per row of a register tile: 4 rows × 2 vectors = 8 accumulators (x86 has 16 xmm). */
const TILE_VECTORS = 2;
/** Columns of C per register tile. */
const TILE_COLUMNS = TILE_VECTORS * 4;
/** Depth of a block: one A panel (4 rows × 256 floats, 4 KB) stays in L1 while a row of tiles sweeps it. */
const DEPTH_BLOCK = 256;
/** Column panels per block: 32 panels × 8 columns × 256 deep × 4 bytes = 256 KB of packed B stay in L2. */
const COLUMN_PANEL_BLOCK = 32;
/** Multiply-adds ×2 a thread must get before a product is split (measured: docs/performance.md, "Threads"). */
const MIN_FLOPS_PER_THREAD = 2 ** 20;
/** Gathered entries a thread must get before packing is split. */
const MIN_GATHER_PER_THREAD = 2 ** 14;
/** Largest wasm memory this kernel asks for; larger products go to the JS kernel instead. */
const MAX_MEMORY_BYTES = 2 ** 30;

/**
 * The kernel `block(a, b, c, rowPanels, columnPanels, depth, aPanelBytes, bPanelBytes, cRowBytes)`:
 * for each row panel, for each column panel, the 4×8 tile of C += (4×depth A panel)·(depth×8 B
 * panel), the tile held in 8 f32x4 locals across the whole depth. Loops are do-while: every
 * count is ≥ 1.
 */
const blockKernel = defineFunction(
  "block",
  {
    a: "i32", // first packed A panel of the block (advances one panel per row of tiles)
    b: "i32", // first packed B panel of the block
    c: "i32", // top-left element of the block's C tiles (advances 4 rows of C per row of tiles)
    rowPanels: "i32", // rows of tiles left (counts down)
    columnPanels: "i32", // column panels in the block
    depth: "i32", // depth of the block, ≥ 1
    aPanelBytes: "i32", // from one packed A panel to the next
    bPanelBytes: "i32", // from one packed B panel to the next
    cRowBytes: "i32", // from one row of the padded C to the next
  },
  (code, p, declare) => {
    const [columnsLeft, bPanel, cTile, aPointer, bPointer, aEnd, cRow] = Array.from({ length: 7 }, () =>
      declare("i32"),
    );
    const splat = declare("v128");
    const bVector = Array.from({ length: TILE_VECTORS }, () => declare("v128"));
    const accumulator = Array.from({ length: TILE_ROWS }, () =>
      Array.from({ length: TILE_VECTORS }, () => declare("v128")),
    );
    /** Moves the 4×8 tile of C at cTile into the accumulators (load) or back (store), row by row. */
    const tileRows = (access: "load" | "store"): void => {
      code.emit(localGet(cTile), localSet(cRow));
      accumulator.forEach((vectors, row) => {
        if (row > 0) code.emit(increment(cRow, { local: p.cRowBytes }));
        vectors.forEach((vector, v) => {
          if (access === "load") code.emit(localGet(cRow), v128Load(16 * v), localSet(vector));
          else code.emit(localGet(cRow), localGet(vector), v128Store(16 * v));
        });
      });
    };
    code.emit(loop); // over row panels
    code.emit(localGet(p.columnPanels), localSet(columnsLeft), localGet(p.b), localSet(bPanel));
    code.emit(localGet(p.c), localSet(cTile), loop); // over column panels
    tileRows("load");
    code.emit(localGet(p.a), localSet(aPointer), localGet(bPanel), localSet(bPointer));
    code.emit(localGet(p.a), localGet(p.depth), i32Const(TILE_ROWS * 4), i32Mul, i32Add, localSet(aEnd));
    code.emit(loop); // over the depth: one rank-1 update of the tile
    for (const [v, vector] of bVector.entries())
      code.emit(localGet(bPointer), v128Load(16 * v), localSet(vector));
    accumulator.forEach((vectors, row) => {
      code.emit(localGet(aPointer), load32Splat(4 * row), localSet(splat));
      // acc += splat(a[row]) · b[v]: a separate mul and add, since fused multiply-add (relaxed SIMD) is not everywhere.
      vectors.forEach((acc, v) => {
        code.emit(localGet(acc), localGet(splat), localGet(bVector[v] ?? splat), f32x4Mul, f32x4Add);
        code.emit(localSet(acc));
      });
    });
    code.emit(increment(aPointer, TILE_ROWS * 4), increment(bPointer, TILE_COLUMNS * 4));
    code.emit(localGet(aPointer), localGet(aEnd), i32Ne, brIf(0), end);
    tileRows("store");
    code.emit(increment(bPanel, { local: p.bPanelBytes }), increment(cTile, TILE_COLUMNS * 4));
    code.emit(localGet(columnsLeft), i32Const(1), i32Sub, localSet(columnsLeft), localGet(columnsLeft));
    code.emit(brIf(0), end);
    code.emit(increment(p.a, { local: p.aPanelBytes }));
    code.emit(localGet(p.c), localGet(p.cRowBytes), i32Const(TILE_ROWS), i32Mul, i32Add, localSet(p.c));
    code.emit(localGet(p.rowPanels), i32Const(1), i32Sub, localSet(p.rowPanels), localGet(p.rowPanels));
    code.emit(brIf(0), end);
  },
);

/** Entries per iteration of `gather` and `scatterAdd`: counts are packed sizes, multiples of 4. */
const GATHER_UNROLL = 4;

/** The byte address `base + 4·(i32 at indices + offset)`: an index-table entry's float. */
const entryAddress = (base: number, indices: number, offset: number) => [
  ...[localGet(base), localGet(indices), i32Load(offset), i32Const(2), i32Shl, i32Add],
];

/**
 * The kernel `gather(to, from, indices, count)`: for i < count, f32 at to + 4i = f32 at
 * from + 4·(i32 at indices + 4i). Packs operands whose layout is a precomputed index table (an
 * im2col) at wasm speed; index −1 reads the float just before `from`, which the driver zeroes.
 */
const gatherKernel = defineFunction(
  "gather",
  { to: "i32", from: "i32", indices: "i32", count: "i32" },
  (code, p) => {
    code.emit(loop);
    for (let i = 0; i < GATHER_UNROLL; i++) {
      code.emit(localGet(p.to), entryAddress(p.from, p.indices, 4 * i), f32Load(), f32Store(4 * i));
    }
    code.emit(increment(p.to, 4 * GATHER_UNROLL), increment(p.indices, 4 * GATHER_UNROLL));
    code.emit(localGet(p.count), i32Const(GATHER_UNROLL), i32Sub, localSet(p.count), localGet(p.count));
    code.emit(brIf(0), end);
  },
);

/**
 * The kernel `scatterAdd(from, to, indices, count)`: for i < count, f32 at to + 4·(i32 at
 * indices + 4i) += f32 at from + 4i. Index −1 adds into the float just before `to`, a dummy slot.
 */
const scatterAddKernel = defineFunction(
  "scatterAdd",
  { from: "i32", to: "i32", indices: "i32", count: "i32" },
  (code, p, declare) => {
    const address = declare("i32");
    code.emit(loop);
    // Each add stores before the next loads: entries that share a target still all land.
    for (let i = 0; i < GATHER_UNROLL; i++) {
      code.emit(entryAddress(p.to, p.indices, 4 * i), localSet(address));
      code.emit(localGet(address), localGet(address), f32Load(), localGet(p.from), f32Load(4 * i), f32Add);
      code.emit(f32Store());
    }
    code.emit(increment(p.from, 4 * GATHER_UNROLL), increment(p.indices, 4 * GATHER_UNROLL));
    code.emit(localGet(p.count), i32Const(GATHER_UNROLL), i32Sub, localSet(p.count), localGet(p.count));
    code.emit(brIf(0), end);
  },
);

// ---------------------------------------------------------------------------------------------
// The instance, its memory, and the driver that packs operands and walks the blocks.

/**
 * The kernels, compiled synchronously (the module is under 1 KB) on the thread pool's shared
 * memory where threads are available, or undefined where WebAssembly SIMD is missing.
 */
const gemmModule = instantiateKernelModule([blockKernel, gatherKernel, scatterAddKernel]);

function exportedKernels() {
  if (gemmModule === undefined) return undefined;
  const { kernels: byName, instance } = gemmModule;
  const [block, gather, scatterAdd] = [blockKernel, gatherKernel, scatterAddKernel].map((f) =>
    byName.get(f.name),
  );
  if (block === undefined || gather === undefined || scatterAdd === undefined) {
    throw new Error("the wasm gemm module lacks one of its `block`, `gather`, `scatterAdd` exports");
  }
  return { module: gemmModule, block, gather, scatterAdd, memory: instance.memory };
}

const kernels = exportedKernels();
let enabled = true;

/** The bytes of wasm memory a product needs: packed A, packed B and the padded C. */
function memoryBytes(m: number, k: number, n: number): number {
  const paddedRows = Math.ceil(m / TILE_ROWS) * TILE_ROWS;
  const paddedColumns = Math.ceil(n / TILE_COLUMNS) * TILE_COLUMNS;
  return 4 * (paddedRows * k + k * paddedColumns + paddedRows * paddedColumns);
}

/**
 * Switches the WebAssembly SIMD kernel on or off (default on) — off forces float32 products onto
 * the JS kernel, as on engines without wasm SIMD (for tests and comparisons).
 */
export function configureWasmGemm(options: { enabled: boolean }): void {
  enabled = options.enabled;
}

/**
 * True when a float32 m×k·k×n product can run on the wasm kernel: wasm SIMD is supported, the
 * kernel is enabled, and its packed operands fit in {@link MAX_MEMORY_BYTES} (1 GiB).
 */
export function canUseWasmGemm(m: number, k: number, n: number): boolean {
  return enabled && kernels !== undefined && memoryBytes(m, k, n) <= MAX_MEMORY_BYTES;
}

/** A strided matrix: element (i, j) is `data[offset + i·rowStride + j·colStride]`. */
export interface MatrixOperand {
  readonly data: ArrayLike<number>;
  readonly offset: number;
  readonly rowStride: number;
  readonly colStride: number;
}

/**
 * Packs A (m×k) into 4-row panels, depth-major (panel r holds a[4r + t, p] at p·4 + t).
 * The inner loop walks whichever of A's axes is contiguous in memory, so transposed views read in order.
 */
function packRowPanels(a: MatrixOperand, m: number, k: number, memory: Float32Array, start: number): void {
  const { data, offset, rowStride, colStride } = a;
  if (Math.abs(colStride) <= Math.abs(rowStride)) {
    for (let t = 0; t < m; t++) {
      let o = start + Math.floor(t / TILE_ROWS) * k * TILE_ROWS + (t % TILE_ROWS);
      let source = offset + t * rowStride;
      for (let p = 0; p < k; p++, o += TILE_ROWS, source += colStride) memory[o] = data[source];
    }
  } else {
    for (let p = 0; p < k; p++) {
      let source = offset + p * colStride;
      for (let t = 0; t < m; t++, source += rowStride) {
        memory[start + (Math.floor(t / TILE_ROWS) * k + p) * TILE_ROWS + (t % TILE_ROWS)] = data[source];
      }
    }
  }
}

/**
 * Packs B (k×n) into 8-column panels, depth-major (panel q holds b[p, 8q + j] at p·8 + j).
 * The inner loop walks whichever of B's axes is contiguous in memory, so transposed views read in order.
 */
function packColumnPanels(b: MatrixOperand, k: number, n: number, memory: Float32Array, start: number): void {
  const { data, offset, rowStride, colStride } = b;
  if (Math.abs(colStride) <= Math.abs(rowStride)) {
    for (let p = 0; p < k; p++) {
      let source = offset + p * rowStride;
      for (let j0 = 0; j0 < n; j0 += TILE_COLUMNS) {
        const o = start + (j0 * k + p * TILE_COLUMNS);
        const width = Math.min(TILE_COLUMNS, n - j0);
        for (let j = 0; j < width; j++, source += colStride) memory[o + j] = data[source];
      }
    }
  } else {
    for (let j = 0; j < n; j++) {
      let o = start + Math.floor(j / TILE_COLUMNS) * k * TILE_COLUMNS + (j % TILE_COLUMNS);
      let source = offset + j * colStride;
      for (let p = 0; p < k; p++, o += TILE_COLUMNS, source += rowStride) memory[o] = data[source];
    }
  }
}

/** Zeroes the padding of packed A (rows m… of its last panel) and of packed B (columns n… of its last panel). */
function zeroPanelPadding(memory: Float32Array, m: number, k: number, n: number, bStart: number): void {
  const lastRows = (Math.ceil(m / TILE_ROWS) - 1) * k * TILE_ROWS;
  for (let t = m % TILE_ROWS || TILE_ROWS; t < TILE_ROWS; t++) {
    for (let p = 0; p < k; p++) memory[lastRows + p * TILE_ROWS + t] = 0;
  }
  const lastColumns = bStart + (Math.ceil(n / TILE_COLUMNS) - 1) * k * TILE_COLUMNS;
  for (let j = n % TILE_COLUMNS || TILE_COLUMNS; j < TILE_COLUMNS; j++) {
    for (let p = 0; p < k; p++) memory[lastColumns + p * TILE_COLUMNS + j] = 0;
  }
}

/** Rows per panel of packed A (see {@link PackOperand}). */
export const PANEL_ROWS = TILE_ROWS;
/** Columns per panel of packed B (see {@link PackOperand}). */
export const PANEL_COLUMNS = TILE_COLUMNS;

/**
 * Writes an operand straight into the kernel's packed layout in wasm memory, for callers that build
 * it on the fly (an im2col) or once for many products. A (m×k) goes in 4-row panels:
 * a[4r + t, p] at start + (r·k + p)·4 + t; B (k×n) in 8-column panels: b[p, 8q + j] at
 * start + (q·k + p)·8 + j. Only the m×k (k×n) real entries need writing: the padding is zeroed before.
 */
export type PackOperand = (memory: Float32Array, start: number) => void;

/**
 * An operand gathered into the packed layout ({@link PackOperand}) by the wasm kernel: packed entry
 * o, padding included, is `source[indices[o]]`, or 0 where `indices[o]` is −1. For layouts that
 * are a fixed table of reads, such as an im2col, which JS loops write several times slower.
 */
export interface GatherOperand {
  readonly source: Float32Array;
  readonly indices: Int32Array;
}

/**
 * Where {@link wasmGemm} adds C instead of returning it: entry (i, j) of C goes to
 * `target[indices[i·n′ + j]]`, n′ being n rounded up to 8 (C's padded rows), nowhere where the
 * index is −1. For the adjoint of an im2col (col2im), which JS loops run several times slower.
 */
export interface ScatterTarget {
  readonly target: Float32Array;
  readonly indices: Int32Array;
}

/**
 * The index tables left in wasm memory by the last product, each reused by the next product if it
 * stages the same table at the same place (conv2d's per-image products); tables are never mutated.
 */
let residentTables: { table: Int32Array; at: number }[] = [];

/** What {@link wasmGemm} takes for A and B. */
export type Operand = MatrixOperand | PackOperand | GatherOperand;

function isGather(operand: Operand): operand is GatherOperand {
  return typeof operand !== "function" && "indices" in operand;
}

/** A (m×k) packed now into 4-row panels, for many products with it: the returned packer copies them in. */
export function packRowPanelsOnce(a: MatrixOperand, m: number, k: number): PackOperand {
  const panels = new Float32Array(Math.ceil(m / TILE_ROWS) * TILE_ROWS * k);
  packRowPanels(a, m, k, panels, 0);
  return (memory, start) => memory.set(panels, start);
}

/**
 * C[m×n] += A[m×k]·B[k×n] in float32 on the WebAssembly SIMD kernel; `c` is contiguous row-major,
 * A and B any strided matrices (read once each while packing into wasm memory), packers that write
 * the packed layout themselves ({@link PackOperand}) or index tables ({@link GatherOperand}); `c` may
 * instead be scattered into a target ({@link ScatterTarget}). With `accumulate: false` C = A·B, and `c`'s
 * old values are never read. Each element sums its products in ascending k, rounding to float32
 * after every step, like a float32 triple loop. Throws when {@link canUseWasmGemm} is false.
 */
export function wasmGemm(
  a: Operand,
  b: Operand,
  c: Float32Array | ScatterTarget,
  m: number,
  k: number,
  n: number,
  { accumulate = true }: { accumulate?: boolean } = {},
): void {
  if (kernels === undefined || !canUseWasmGemm(m, k, n)) {
    throw new Error(
      `the wasm gemm cannot run ${m}×${k}·${k}×${n} (wasm SIMD ${kernels ? "supported" : "unsupported"}, ` +
        `${enabled ? "enabled" : "disabled"}, ${memoryBytes(m, k, n)} bytes): check canUseWasmGemm first`,
    );
  }
  if (m === 0 || n === 0) return;
  if (k === 0) {
    if (!accumulate && c instanceof Float32Array) c.fill(0, 0, m * n);
    return;
  }
  const { module, block, gather, scatterAdd, memory } = kernels;
  const rowPanels = Math.ceil(m / TILE_ROWS);
  const columnPanels = Math.ceil(n / TILE_COLUMNS);
  const cRow = columnPanels * TILE_COLUMNS;
  const bStart = rowPanels * TILE_ROWS * k;
  const cStart = bStart + k * cRow;
  // Index tables stage past C: the table, one float (zero for gathers, a dummy for scatters), the data.
  const tables = [a, b, c].flatMap((operand) =>
    typeof operand === "function" || !("indices" in operand) ? [] : [operand],
  );
  const staged = tables.reduce(
    (total, table) =>
      total + table.indices.length + 1 + ("source" in table ? table.source : table.target).length,
    0,
  );
  const bytes = memoryBytes(m, k, n) + 4 * staged;
  ensureMemory(memory, bytes);
  const floats = new Float32Array(memory.buffer);
  let free = cStart + rowPanels * TILE_ROWS * cRow;
  const previous = residentTables;
  residentTables = [];
  const stage = (table: Int32Array, data: Float32Array, entries: number) => {
    if (table.length !== entries) {
      throw new Error(`an index table for this product needs ${entries} entries, got ${table.length}`);
    }
    const indicesAt = free;
    if (!previous.some((resident) => resident.table === table && resident.at === indicesAt)) {
      new Int32Array(memory.buffer).set(table, indicesAt);
    }
    residentTables.push({ table, at: indicesAt });
    floats[indicesAt + entries] = 0;
    const dataAt = indicesAt + entries + 1;
    floats.set(data, dataAt);
    free = dataAt + data.length;
    return { indicesAt, dataAt };
  };
  const gathers: { to: number; dataAt: number; indicesAt: number; count: number }[] = [];
  const pack = (
    operand: Operand,
    start: number,
    packed: number,
    packMatrix: (matrix: MatrixOperand) => void,
  ) => {
    if (typeof operand === "function") operand(floats, start);
    else if (!isGather(operand)) packMatrix(operand);
    else gathers.push({ to: start, ...stage(operand.indices, operand.source, packed), count: packed });
  };
  zeroPanelPadding(floats, m, k, n, bStart);
  pack(a, 0, bStart, (matrix) => packRowPanels(matrix, m, k, floats, 0));
  pack(b, bStart, k * cRow, (matrix) => packColumnPanels(matrix, k, n, floats, bStart));
  // Each thread gathers a 4-aligned share of every table (counts are multiples of 4).
  const entries = gathers.reduce((total, { count }) => total + count, 0);
  const gatherThreads = threadsFor(module, entries / GATHER_UNROLL, MIN_GATHER_PER_THREAD / GATHER_UNROLL);
  runOnThreads(
    Array.from({ length: gatherThreads }, (_, t) =>
      gathers.flatMap(({ to, dataAt, indicesAt, count }) => {
        const share = (thread: number) =>
          GATHER_UNROLL * Math.floor((count / GATHER_UNROLL) * (thread / gatherThreads));
        const [first, last] = [share(t), share(t + 1)];
        if (first === last) return [];
        return [
          { kernel: gather, args: [4 * (to + first), 4 * dataAt, 4 * (indicesAt + first), last - first] },
        ];
      }),
    ),
  );
  floats.fill(0, cStart, cStart + rowPanels * TILE_ROWS * cRow);
  if (accumulate && c instanceof Float32Array) {
    for (let i = 0; i < m; i++) floats.set(c.subarray(i * n, (i + 1) * n), cStart + i * cRow);
  }
  // Threads split C's row panels (or column panels, where there are more): each element's sum
  // runs over the same depth blocks in the same order as on one thread, so results are identical.
  const splitRows = rowPanels >= columnPanels;
  const panels = splitRows ? rowPanels : columnPanels;
  const flopsPerPanel = 2 * k * (splitRows ? TILE_ROWS * cRow : rowPanels * TILE_ROWS * TILE_COLUMNS);
  const threads = threadsFor(module, panels, Math.ceil(MIN_FLOPS_PER_THREAD / flopsPerPanel));
  const plans = Array.from({ length: threads }, (_, t) => {
    const [first, last] = [Math.floor((panels * t) / threads), Math.floor((panels * (t + 1)) / threads)];
    const [rowFirst, rowCount] = splitRows ? [first, last - first] : [0, rowPanels];
    const [columnFirst, columnEnd] = splitRows ? [0, columnPanels] : [first, last];
    const calls: KernelCall[] = [];
    for (let p0 = 0; p0 < k; p0 += DEPTH_BLOCK) {
      for (let q0 = columnFirst; q0 < columnEnd; q0 += COLUMN_PANEL_BLOCK) {
        const args = [
          4 * (rowFirst * k * TILE_ROWS + p0 * TILE_ROWS),
          4 * (bStart + (q0 * k + p0) * TILE_COLUMNS),
          4 * (cStart + rowFirst * TILE_ROWS * cRow + q0 * TILE_COLUMNS),
          rowCount,
          Math.min(COLUMN_PANEL_BLOCK, columnEnd - q0),
          Math.min(DEPTH_BLOCK, k - p0),
          4 * k * TILE_ROWS,
          4 * k * TILE_COLUMNS,
          4 * cRow,
        ];
        calls.push({ kernel: block, args });
      }
    }
    return calls;
  });
  runOnThreads(plans);
  if (c instanceof Float32Array) {
    for (let i = 0; i < m; i++) c.set(floats.subarray(cStart + i * cRow, cStart + i * cRow + n), i * n);
  } else {
    const { indicesAt, dataAt } = stage(c.indices, c.target, m * cRow);
    // One thread: entries of different rows may add into the same target.
    scatterAdd.run(4 * cStart, 4 * dataAt, 4 * indicesAt, m * cRow);
    c.target.set(floats.subarray(dataAt, dataAt + c.target.length));
  }
}

/**
 * C[m×n] += A[m×k]·B[k×n] on contiguous row-major arrays: float32 on the wasm SIMD kernel where
 * {@link canUseWasmGemm} allows, everything else (float64, or no wasm SIMD) on the JS kernel.
 */
export function gemmPreferringWasm(
  a: Float32Array | Float64Array,
  b: Float32Array | Float64Array,
  c: Float32Array | Float64Array,
  m: number,
  k: number,
  n: number,
): void {
  if (c instanceof Float32Array && canUseWasmGemm(m, k, n)) {
    wasmGemm(
      { data: a, offset: 0, rowStride: k, colStride: 1 },
      { data: b, offset: 0, rowStride: n, colStride: 1 },
      c,
      m,
      k,
      n,
    );
  } else {
    gemm(a, b, c, m, k, n);
  }
}
