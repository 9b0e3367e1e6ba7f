// The float32 matmul kernel in WebAssembly SIMD: a tiny module emitter, the 4×8 micro-kernel, gather/scatter through index tables, packing and blocking.
import { gemm } from "./gemm.ts";

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
/** Largest wasm memory this kernel asks for; larger products go to the JS kernel instead. */
const MAX_MEMORY_BYTES = 2 ** 30;
const PAGE_BYTES = 65536;

// ---------------------------------------------------------------------------------------------
// A byte builder for the few WebAssembly instructions the kernel uses (binary format, spec §5).

const I32 = 0x7f;
const V128 = 0x7b;

/** The unsigned LEB128 bytes of a non-negative integer (indices, sizes, memarg fields). */
function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

/** The signed LEB128 bytes of an i32 (the immediate of `i32.const`). */
function signedLeb(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

/** A length-prefixed byte vector (sections, function bodies, names). */
function sized(bytes: readonly number[]): number[] {
  return [...unsignedLeb(bytes.length), ...bytes];
}

/** Instructions appended one call at a time; each method is one opcode and returns the builder. */
class CodeBuilder {
  readonly bytes: number[] = [];

  #emit(...bytes: number[]): this {
    this.bytes.push(...bytes);
    return this;
  }
  /** `loop` (empty block type): `br 0` inside jumps back to its start. */
  loop(): this {
    return this.#emit(0x03, 0x40);
  }
  /** `end` of a loop or of the function body. */
  end(): this {
    return this.#emit(0x0b);
  }
  /** `br_if depth`: pops an i32 and branches when it is non-zero. */
  brIf(depth: number): this {
    return this.#emit(0x0d, ...unsignedLeb(depth));
  }
  /** `local.get index`. */
  get(local: number): this {
    return this.#emit(0x20, ...unsignedLeb(local));
  }
  /** `local.set index`. */
  set(local: number): this {
    return this.#emit(0x21, ...unsignedLeb(local));
  }
  /** `i32.const value`. */
  i32Const(value: number): this {
    return this.#emit(0x41, ...signedLeb(value));
  }
  /** `i32.add`. */
  i32Add(): this {
    return this.#emit(0x6a);
  }
  /** `i32.sub`. */
  i32Sub(): this {
    return this.#emit(0x6b);
  }
  /** `i32.mul`. */
  i32Mul(): this {
    return this.#emit(0x6c);
  }
  /** `i32.ne`. */
  i32Ne(): this {
    return this.#emit(0x47);
  }
  /** `i32.shl`. */
  i32Shl(): this {
    return this.#emit(0x74);
  }
  /** `i32.load align=4 offset`: pops an address. */
  i32Load(offset = 0): this {
    return this.#emit(0x28, 2, ...unsignedLeb(offset));
  }
  /** `f32.load align=4 offset`: pops an address. */
  f32Load(offset = 0): this {
    return this.#emit(0x2a, 2, ...unsignedLeb(offset));
  }
  /** `f32.store align=4 offset`: pops address and value. */
  f32Store(offset = 0): this {
    return this.#emit(0x38, 2, ...unsignedLeb(offset));
  }
  /** `f32.add`. */
  f32Add(): this {
    return this.#emit(0x92);
  }
  /** `v128.load align=16 offset`: 4 floats from address + offset. */
  v128Load(offset: number): this {
    return this.#emit(0xfd, ...unsignedLeb(0x00), 4, ...unsignedLeb(offset));
  }
  /** `v128.store align=16 offset`: pops address and vector. */
  v128Store(offset: number): this {
    return this.#emit(0xfd, ...unsignedLeb(0x0b), 4, ...unsignedLeb(offset));
  }
  /** `v128.load32_splat align=4 offset`: one float from address + offset, copied into all 4 lanes. */
  load32Splat(offset: number): this {
    return this.#emit(0xfd, ...unsignedLeb(0x09), 2, ...unsignedLeb(offset));
  }
  /** `f32x4.add`. */
  f32x4Add(): this {
    return this.#emit(0xfd, ...unsignedLeb(0xe4));
  }
  /** `f32x4.mul`. */
  f32x4Mul(): this {
    return this.#emit(0xfd, ...unsignedLeb(0xe6));
  }
  /** `local += step` for an i32 local (get, get or const, i32.add, set); the step is a local or a constant. */
  increment(local: number, step: { local: number } | { constant: number }): this {
    this.get(local);
    if ("local" in step) this.get(step.local);
    else this.i32Const(step.constant);
    return this.i32Add().set(local);
  }
}

// The kernel's parameters (byte addresses and byte strides into memory), then its locals.
const A = 0; // first packed A panel of the block (advances one panel per row of tiles)
const B = 1; // first packed B panel of the block
const C = 2; // top-left element of the block's C tiles (advances 4 rows of C per row of tiles)
const ROW_PANELS = 3; // rows of tiles left (counts down)
const COLUMN_PANELS = 4; // column panels in the block
const DEPTH = 5; // depth of the block, ≥ 1
const A_PANEL_BYTES = 6; // from one packed A panel to the next
const B_PANEL_BYTES = 7; // from one packed B panel to the next
const C_ROW_BYTES = 8; // from one row of the padded C to the next
const PARAMETER_COUNT = 9;
const COLUMNS_LEFT = 9;
const B_PANEL = 10;
const C_TILE = 11;
const A_POINTER = 12;
const B_POINTER = 13;
const A_END = 14;
const C_ROW = 15;
const I32_LOCAL_COUNT = 7;
const SPLAT = 16;
const bVector = (v: number): number => 17 + v;
const accumulator = (row: number, v: number): number => 17 + TILE_VECTORS + row * TILE_VECTORS + v;
const V128_LOCAL_COUNT = 1 + TILE_VECTORS + TILE_ROWS * TILE_VECTORS;

/**
 * The kernel `block(a, b, c, rowPanels, columnPanels, depth, aPanelBytes, bPanelBytes, cRowBytes)`:
 * for each row panel, for each column panel, the 4×8 tile of C += (4×depth A panel)·(depth×8 B
 * panel), the tile held in 8 f32x4 locals across the whole depth. Loops are do-while: every
 * count is ≥ 1.
 */
function emitBlockKernel(): number[] {
  const code = new CodeBuilder();
  /** Moves the 4×8 tile of C at C_TILE into the accumulators (load) or back (store), row by row. */
  const tileRows = (access: "load" | "store"): void => {
    code.get(C_TILE).set(C_ROW);
    for (let row = 0; row < TILE_ROWS; row++) {
      if (row > 0) code.increment(C_ROW, { local: C_ROW_BYTES });
      for (let v = 0; v < TILE_VECTORS; v++) {
        if (access === "load")
          code
            .get(C_ROW)
            .v128Load(16 * v)
            .set(accumulator(row, v));
        else
          code
            .get(C_ROW)
            .get(accumulator(row, v))
            .v128Store(16 * v);
      }
    }
  };

  code.loop(); // over row panels
  code.get(COLUMN_PANELS).set(COLUMNS_LEFT);
  code.get(B).set(B_PANEL);
  code.get(C).set(C_TILE);
  code.loop(); // over column panels
  tileRows("load");
  code.get(A).set(A_POINTER);
  code.get(B_PANEL).set(B_POINTER);
  code
    .get(A)
    .get(DEPTH)
    .i32Const(TILE_ROWS * 4)
    .i32Mul()
    .i32Add()
    .set(A_END);
  code.loop(); // over the depth: one rank-1 update of the tile
  for (let v = 0; v < TILE_VECTORS; v++)
    code
      .get(B_POINTER)
      .v128Load(16 * v)
      .set(bVector(v));
  for (let row = 0; row < TILE_ROWS; row++) {
    code
      .get(A_POINTER)
      .load32Splat(4 * row)
      .set(SPLAT);
    for (let v = 0; v < TILE_VECTORS; v++) {
      // acc += splat(a[row]) · b[v]: a separate mul and add, since fused multiply-add (relaxed SIMD) is not everywhere.
      code.get(accumulator(row, v)).get(SPLAT).get(bVector(v)).f32x4Mul().f32x4Add().set(accumulator(row, v));
    }
  }
  code.increment(A_POINTER, { constant: TILE_ROWS * 4 });
  code.increment(B_POINTER, { constant: TILE_COLUMNS * 4 });
  code.get(A_POINTER).get(A_END).i32Ne().brIf(0);
  code.end();
  tileRows("store");
  code.increment(B_PANEL, { local: B_PANEL_BYTES });
  code.increment(C_TILE, { constant: TILE_COLUMNS * 4 });
  code.get(COLUMNS_LEFT).i32Const(1).i32Sub().set(COLUMNS_LEFT);
  code.get(COLUMNS_LEFT).brIf(0);
  code.end();
  code.increment(A, { local: A_PANEL_BYTES });
  code.get(C).get(C_ROW_BYTES).i32Const(TILE_ROWS).i32Mul().i32Add().set(C);
  code.get(ROW_PANELS).i32Const(1).i32Sub().set(ROW_PANELS);
  code.get(ROW_PANELS).brIf(0);
  code.end();
  code.end(); // of the function body

  const locals = [2, ...unsignedLeb(I32_LOCAL_COUNT), I32, ...unsignedLeb(V128_LOCAL_COUNT), V128];
  return sized([...locals, ...code.bytes]);
}

/** Entries per iteration of `gather` and `scatterAdd`: counts are packed sizes, multiples of 4. */
const GATHER_UNROLL = 4;

/**
 * The kernel `gather(to, from, indices, count)`: for i < count, f32 at to + 4i = f32 at
 * from + 4·(i32 at indices + 4i). Packs operands whose layout is a precomputed index table (an
 * im2col) at wasm speed; index −1 reads the float just before `from`, which the driver zeroes.
 */
function emitGatherKernel(): number[] {
  const [to, from, indices, count] = [0, 1, 2, 3];
  const code = new CodeBuilder();
  code.loop();
  for (let i = 0; i < GATHER_UNROLL; i++) {
    code
      .get(to)
      .get(from)
      .get(indices)
      .i32Load(4 * i)
      .i32Const(2)
      .i32Shl()
      .i32Add()
      .f32Load()
      .f32Store(4 * i);
  }
  code.increment(to, { constant: 4 * GATHER_UNROLL });
  code.increment(indices, { constant: 4 * GATHER_UNROLL });
  code.get(count).i32Const(GATHER_UNROLL).i32Sub().set(count);
  code.get(count).brIf(0);
  code.end();
  code.end();
  return sized([0, ...code.bytes]);
}

/**
 * The kernel `scatterAdd(from, to, indices, count)`: for i < count, f32 at to + 4·(i32 at
 * indices + 4i) += f32 at from + 4i. Index −1 adds into the float just before `to`, a dummy slot.
 */
function emitScatterAddKernel(): number[] {
  const [from, to, indices, count, address] = [0, 1, 2, 3, 4];
  const code = new CodeBuilder();
  code.loop();
  // Each add stores before the next loads: entries that share a target still all land.
  for (let i = 0; i < GATHER_UNROLL; i++) {
    code
      .get(to)
      .get(indices)
      .i32Load(4 * i)
      .i32Const(2)
      .i32Shl()
      .i32Add()
      .set(address);
    code
      .get(address)
      .get(address)
      .f32Load()
      .get(from)
      .f32Load(4 * i)
      .f32Add()
      .f32Store();
  }
  code.increment(from, { constant: 4 * GATHER_UNROLL });
  code.increment(indices, { constant: 4 * GATHER_UNROLL });
  code.get(count).i32Const(GATHER_UNROLL).i32Sub().set(count);
  code.get(count).brIf(0);
  code.end();
  code.end();
  return sized([1, 1, I32, ...code.bytes]);
}

/** The whole module: functions `block`, `gather` and `scatterAdd` (types 0, 1, 1), one exported memory `memory`. */
function emitModule(): Uint8Array<ArrayBuffer> {
  const section = (id: number, ...items: number[][]): number[] => [
    id,
    ...sized([...unsignedLeb(items.length), ...items.flat()]),
  ];
  const name = (text: string): number[] => sized([...text].map((char) => char.charCodeAt(0)));
  const i32Function = (count: number): number[] => [
    0x60,
    ...unsignedLeb(count),
    ...Array(count).fill(I32),
    0,
  ];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, i32Function(PARAMETER_COUNT), i32Function(4)), // types
    ...section(3, [0], [1], [1]), // the types of the three functions
    ...section(5, [0x00, 1]), // one memory, at least 1 page, no maximum
    ...section(
      7,
      [...name("block"), 0x00, 0],
      [...name("gather"), 0x00, 1],
      [...name("scatterAdd"), 0x00, 2],
      [...name("memory"), 0x02, 0],
    ), // exports
    ...section(10, emitBlockKernel(), emitGatherKernel(), emitScatterAddKernel()), // code
  ]);
}

// ---------------------------------------------------------------------------------------------
// The instance, its memory, and the driver that packs operands and walks the blocks.

type BlockKernel = (
  a: number,
  b: number,
  c: number,
  rowPanels: number,
  columnPanels: number,
  depth: number,
  aPanelBytes: number,
  bPanelBytes: number,
  cRowBytes: number,
) => void;

/** The part of the WebAssembly JS API used here (TypeScript declares it only in lib.dom, which we leave out). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => WasmMemory;
}

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface WasmKernel {
  block: BlockKernel;
  gather: (to: number, from: number, indices: number, count: number) => void;
  scatterAdd: (from: number, to: number, indices: number, count: number) => void;
  memory: WasmMemory;
}

function isWasmApi(value: unknown): value is WasmApi {
  return typeof value === "object" && value !== null && "validate" in value && "Memory" in value;
}

const moduleBytes = emitModule();
const wasm: unknown = Reflect.get(globalThis, "WebAssembly");
/** The WebAssembly API where it runs SIMD (validating our own module is the feature test), else undefined. */
const simdWasm = isWasmApi(wasm) && wasm.validate(moduleBytes) ? wasm : undefined;
let enabled = true;
let kernel: WasmKernel | undefined;

function instance(api: WasmApi): WasmKernel {
  if (kernel) return kernel;
  // Synchronous compilation is fine: the module is under 1 KB (browsers cap sync compiles at 4 KB).
  const { exports } = new api.Instance(new api.Module(moduleBytes));
  const { block, gather, scatterAdd, memory } = exports;
  if (
    typeof block !== "function" ||
    typeof gather !== "function" ||
    typeof scatterAdd !== "function" ||
    !(memory instanceof api.Memory)
  ) {
    throw new Error(
      "the wasm gemm module lacks one of its `block`, `gather`, `scatterAdd`, `memory` exports",
    );
  }
  kernel = {
    block: (...args) => block(...args),
    gather: (...args) => gather(...args),
    scatterAdd: (...args) => scatterAdd(...args),
    memory,
  };
  return kernel;
}

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
  return enabled && simdWasm !== undefined && memoryBytes(m, k, n) <= MAX_MEMORY_BYTES;
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
  if (!simdWasm || !canUseWasmGemm(m, k, n)) {
    throw new Error(
      `the wasm gemm cannot run ${m}×${k}·${k}×${n} (wasm SIMD ${simdWasm ? "supported" : "unsupported"}, ` +
        `${enabled ? "enabled" : "disabled"}, ${memoryBytes(m, k, n)} bytes): check canUseWasmGemm first`,
    );
  }
  if (m === 0 || n === 0) return;
  if (k === 0) {
    if (!accumulate && c instanceof Float32Array) c.fill(0, 0, m * n);
    return;
  }
  const { block, gather, scatterAdd, memory } = instance(simdWasm);
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
  if (memory.buffer.byteLength < bytes)
    memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE_BYTES));
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
  const pack = (
    operand: Operand,
    start: number,
    packed: number,
    packMatrix: (matrix: MatrixOperand) => void,
  ) => {
    if (typeof operand === "function") operand(floats, start);
    else if (!isGather(operand)) packMatrix(operand);
    else {
      const { indicesAt, dataAt } = stage(operand.indices, operand.source, packed);
      gather(4 * start, 4 * dataAt, 4 * indicesAt, packed);
    }
  };
  zeroPanelPadding(floats, m, k, n, bStart);
  pack(a, 0, bStart, (matrix) => packRowPanels(matrix, m, k, floats, 0));
  pack(b, bStart, k * cRow, (matrix) => packColumnPanels(matrix, k, n, floats, bStart));
  floats.fill(0, cStart, cStart + rowPanels * TILE_ROWS * cRow);
  if (accumulate && c instanceof Float32Array) {
    for (let i = 0; i < m; i++) floats.set(c.subarray(i * n, (i + 1) * n), cStart + i * cRow);
  }
  for (let p0 = 0; p0 < k; p0 += DEPTH_BLOCK) {
    const depth = Math.min(DEPTH_BLOCK, k - p0);
    for (let q0 = 0; q0 < columnPanels; q0 += COLUMN_PANEL_BLOCK) {
      block(
        4 * p0 * TILE_ROWS,
        4 * (bStart + (q0 * k + p0) * TILE_COLUMNS),
        4 * (cStart + q0 * TILE_COLUMNS),
        rowPanels,
        Math.min(COLUMN_PANEL_BLOCK, columnPanels - q0),
        depth,
        4 * k * TILE_ROWS,
        4 * k * TILE_COLUMNS,
        4 * cRow,
      );
    }
  }
  if (c instanceof Float32Array) {
    for (let i = 0; i < m; i++) c.set(floats.subarray(cStart + i * cRow, cStart + i * cRow + n), i * n);
  } else {
    const { indicesAt, dataAt } = stage(c.indices, c.target, m * cRow);
    scatterAdd(4 * cStart, 4 * dataAt, 4 * indicesAt, m * cRow);
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
