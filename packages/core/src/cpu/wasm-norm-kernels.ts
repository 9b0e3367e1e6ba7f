// The float32 normalization kernels as one WebAssembly SIMD module: statistics, normalize + affine, backward sums, dx.
import {
  type Code,
  defineFunction,
  type EmittedFunction,
  emitModule,
  f32Add,
  f32Load,
  f32Mul,
  f32Store,
  f32Sub,
  f32x4Add,
  f32x4Mul,
  f32x4Splat,
  f32x4Sub,
  f64Add,
  f64Mul,
  f64PromoteF32,
  f64Store,
  f64Sub,
  f64x2Add,
  f64x2ExtractLane,
  f64x2Mul,
  f64x2PromoteLow,
  f64x2Splat,
  f64x2Sub,
  type Instruction,
  i8x16Shuffle,
  i32Add,
  i32Const,
  i32Mul,
  instantiate,
  load64Zero,
  localGet,
  localSet,
  memoryCopy,
  overElements,
  type ValueType,
  v128Load,
  v128Store,
  v128Zero,
  type WasmMemory,
} from "./wasm-module.ts";

// Accuracy. The statistics subtract the shift in float64 from exactly promoted floats and sum in
// float64 lanes, as the JavaScript kernels do. Elementwise results (y, dx) are float32 with
// x − μ taken as x − μ_hi, μ = μ_hi + μ_lo split into two floats and μ_lo folded into the
// additive coefficient by the caller: the subtraction is exact wherever x is within a factor 2
// of μ_hi, so x − μ keeps float32's relative precision even where μ (say 1e4) is not
// representable to the data's spread (1e-2). The backward sums add four float32 products in a
// tree before each float64 addition; per-channel sums over rows (BatchNorm1d's columns,
// LayerNorm's dγ and dβ) stay float32 over at most 32 rows (`COLUMN_ROWS` in wasm-norm.ts). A few
// float32 roundings per term, where PyTorch's CPU kernels sum whole rows in float32.

const F32 = 4;
const F64 = 8;
/** Bytes 8..15 twice: moves the high two floats of a vector to its low half, for `f64x2.promote_low_f32x4`. */
const HIGH_HALF = i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);

type Declare = (type: ValueType) => number;

/** Declares `count` consecutive locals of one type (locals are numbered in declaration order); returns the first. */
function locals(declare: Declare, type: ValueType, count: number): number {
  const first = declare(type);
  for (let i = 1; i < count; i++) declare(type);
  return first;
}

/** `low += promote(v[0..1])`, `high += promote(v[2..3])`: a float32 vector's lanes into two float64 sums. */
function accumulateHalves(vector: number, low: number, high: number): Instruction[] {
  return [
    ...[localGet(low), localGet(vector), f64x2PromoteLow, f64x2Add, localSet(low)],
    ...[
      localGet(high),
      localGet(vector),
      localGet(vector),
      HIGH_HALF,
      f64x2PromoteLow,
      f64x2Add,
      localSet(high),
    ],
  ];
}

/**
 * Stores at `address + offset` the float64 total of the lanes of `count` consecutive f64x2
 * locals from `first`, plus the scalar f64 local `tail`.
 */
function storeTotal(
  address: number,
  offset: number,
  first: number,
  count: number,
  tail: number,
  scratch: number,
) {
  const vectors = Array.from({ length: count }, (_, v) =>
    v === 0 ? [localGet(first)] : [localGet(first + v), f64x2Add],
  );
  return [
    localGet(address),
    ...vectors.flat(),
    localSet(scratch),
    ...[localGet(scratch), f64x2ExtractLane(0), localGet(scratch), f64x2ExtractLane(1), f64Add],
    ...[localGet(tail), f64Add, f64Store(offset)],
  ];
}

/** Splats an f32 parameter into a new f32x4 local, returned. */
function splat(code: Code, declare: Declare, parameter: number): number {
  const vector = declare("v128");
  code.emit(localGet(parameter), f32x4Splat, localSet(vector));
  return vector;
}

const floats = (...pointers: number[]) => pointers.map((local) => ({ local, bytes: F32 }));

// ---- runs of elements sharing one statistic and one channel ------------------------------------

/** `shiftedSums(x, n, shift, out)`: out[0] = Σ(x − shift), out[1] = Σ(x − shift)², in float64. */
const shiftedSums = defineFunction(
  "shiftedSums",
  { x: "i32", n: "i32", shift: "f64", out: "i32" },
  (code, p, declare) => {
    const shift = declare("v128");
    const sums = locals(declare, "v128", 4);
    const squares = locals(declare, "v128", 4);
    const d = declare("v128");
    const [tailSum, tailSquares, dScalar] = [declare("f64"), declare("f64"), declare("f64")];
    code.emit(localGet(p.shift), f64x2Splat, localSet(shift));
    overElements(
      code,
      declare,
      p.n,
      8,
      floats(p.x),
      () => {
        for (let h = 0; h < 4; h++) {
          code.emit(localGet(p.x), load64Zero(8 * h), f64x2PromoteLow, localGet(shift), f64x2Sub);
          code.emit(localSet(d));
          code.emit(localGet(sums + h), localGet(d), f64x2Add, localSet(sums + h));
          code.emit(localGet(squares + h), localGet(d), localGet(d), f64x2Mul, f64x2Add);
          code.emit(localSet(squares + h));
        }
      },
      () => {
        code.emit(localGet(p.x), f32Load(), f64PromoteF32, localGet(p.shift), f64Sub, localSet(dScalar));
        code.emit(localGet(tailSum), localGet(dScalar), f64Add, localSet(tailSum));
        code.emit(localGet(tailSquares), localGet(dScalar), localGet(dScalar), f64Mul, f64Add);
        code.emit(localSet(tailSquares));
      },
    );
    code.emit(storeTotal(p.out, 0, sums, 4, tailSum, d), storeTotal(p.out, F64, squares, 4, tailSquares, d));
  },
);

/** `gradientSums(dy, x, n, μ_hi, out)`: out[0] = Σdy, out[1] = Σdy·(x − μ_hi), in float64. */
const gradientSums = defineFunction(
  "gradientSums",
  { dy: "i32", x: "i32", n: "i32", meanHigh: "f32", out: "i32" },
  (code, p, declare) => {
    const mean = splat(code, declare, p.meanHigh);
    const g = locals(declare, "v128", 2);
    const product = locals(declare, "v128", 2);
    const gSums = locals(declare, "v128", 2);
    const productSums = locals(declare, "v128", 2);
    const [gTail, productTail, gScalar] = [declare("f64"), declare("f64"), declare("f32")];
    /** g[v] = dy₂ᵥ + dy₂ᵥ₊₁ and product[v] likewise, from the four vectors at offsets 32v and 32v + 16. */
    const pairSums = (v: number): Instruction[] => {
      const loads = (offset: number): Instruction[] => [localGet(p.dy), v128Load(offset)];
      const centred = (offset: number): Instruction[] => [
        localGet(p.x),
        v128Load(offset),
        localGet(mean),
        f32x4Sub,
      ];
      const a = 32 * v;
      return [
        ...[...loads(a), ...loads(a + 16), f32x4Add, localSet(g + v)],
        ...[...loads(a), ...centred(a), f32x4Mul, ...loads(a + 16), ...centred(a + 16), f32x4Mul, f32x4Add],
        localSet(product + v),
      ];
    };
    overElements(
      code,
      declare,
      p.n,
      16,
      floats(p.dy, p.x),
      () => {
        code.emit(pairSums(0), pairSums(1));
        code.emit(localGet(g), localGet(g + 1), f32x4Add, localSet(g));
        code.emit(localGet(product), localGet(product + 1), f32x4Add, localSet(product));
        code.emit(accumulateHalves(g, gSums, gSums + 1));
        code.emit(accumulateHalves(product, productSums, productSums + 1));
      },
      () => {
        code.emit(localGet(p.dy), f32Load(), localSet(gScalar));
        code.emit(localGet(gTail), localGet(gScalar), f64PromoteF32, f64Add, localSet(gTail));
        code.emit(localGet(productTail), localGet(gScalar), localGet(p.x), f32Load(), localGet(p.meanHigh));
        code.emit(f32Sub);
        code.emit(f32Mul, f64PromoteF32, f64Add, localSet(productTail));
      },
    );
    code.emit(storeTotal(p.out, 0, gSums, 2, gTail, g));
    code.emit(storeTotal(p.out, F64, productSums, 2, productTail, g));
  },
);

/** `affine(x, y, n, μ_hi, scale, shift)`: y = (x − μ_hi)·scale + shift. */
const affine = defineFunction(
  "affine",
  { x: "i32", y: "i32", n: "i32", meanHigh: "f32", scale: "f32", shift: "f32" },
  (code, p, declare) => {
    const [mean, scale, shift] = [p.meanHigh, p.scale, p.shift].map((parameter) =>
      splat(code, declare, parameter),
    );
    overElements(
      code,
      declare,
      p.n,
      8,
      floats(p.x, p.y),
      () => {
        for (const offset of [0, 16]) {
          code.emit(localGet(p.y), localGet(p.x), v128Load(offset), localGet(mean), f32x4Sub);
          code.emit(localGet(scale), f32x4Mul, localGet(shift), f32x4Add, v128Store(offset));
        }
      },
      () => {
        code.emit(localGet(p.y), localGet(p.x), f32Load(), localGet(p.meanHigh), f32Sub);
        code.emit(localGet(p.scale), f32Mul, localGet(p.shift), f32Add, f32Store());
      },
    );
  },
);

/** `inputGradient(dy, x, dx, n, μ_hi, k1, k2, k3)`: dx = k₁·dy + k₂·(x − μ_hi) + k₃. */
const inputGradient = defineFunction(
  "inputGradient",
  { dy: "i32", x: "i32", dx: "i32", n: "i32", meanHigh: "f32", k1: "f32", k2: "f32", k3: "f32" },
  (code, p, declare) => {
    const [mean, k1, k2, k3] = [p.meanHigh, p.k1, p.k2, p.k3].map((parameter) =>
      splat(code, declare, parameter),
    );
    overElements(
      code,
      declare,
      p.n,
      8,
      floats(p.dy, p.x, p.dx),
      () => {
        for (const offset of [0, 16]) {
          code.emit(localGet(p.dx), localGet(p.dy), v128Load(offset), localGet(k1), f32x4Mul);
          code.emit(localGet(p.x), v128Load(offset), localGet(mean), f32x4Sub, localGet(k2), f32x4Mul);
          code.emit(f32x4Add);
          code.emit(localGet(k3), f32x4Add, v128Store(offset));
        }
      },
      () => {
        code.emit(localGet(p.dx), localGet(p.dy), f32Load(), localGet(p.k1), f32Mul);
        code.emit(localGet(p.x), f32Load(), localGet(p.meanHigh), f32Sub, localGet(p.k2), f32Mul, f32Add);
        code.emit(localGet(p.k3), f32Add, f32Store());
      },
    );
  },
);

// ---- a row whose elements each have their own channel (LayerNorm, GroupNorm on (N, C)) ---------

/** `(x − μ_hi) − μ_lo` for the f32x4 at `pointer + offset`, the split mean in two f32x4 locals. */
const centredVector = (pointer: number, offset: number, high: number, low: number): Instruction[] => [
  ...[localGet(pointer), v128Load(offset), localGet(high), f32x4Sub, localGet(low), f32x4Sub],
];

/** The same for one float, the split mean in two f32 locals. */
const centredScalar = (pointer: number, high: number, low: number): Instruction[] => [
  ...[localGet(pointer), f32Load(), localGet(high), f32Sub, localGet(low), f32Sub],
];

const SPLIT_MEAN = { meanHigh: "f32", meanLow: "f32" } as const;

/** `affineChannels(x, y, γ, β, n, μ_hi, μ_lo, s)`: y = ((x − μ)·s)·γ[c] + β[c]. */
const affineChannels = defineFunction(
  "affineChannels",
  { x: "i32", y: "i32", gamma: "i32", beta: "i32", n: "i32", ...SPLIT_MEAN, invStd: "f32" },
  (code, p, declare) => {
    const [high, low, invStd] = [p.meanHigh, p.meanLow, p.invStd].map((parameter) =>
      splat(code, declare, parameter),
    );
    overElements(
      code,
      declare,
      p.n,
      8,
      floats(p.x, p.y, p.gamma, p.beta),
      () => {
        for (const offset of [0, 16]) {
          code.emit(localGet(p.y), centredVector(p.x, offset, high, low), localGet(invStd), f32x4Mul);
          code.emit(localGet(p.gamma), v128Load(offset), f32x4Mul, localGet(p.beta), v128Load(offset));
          code.emit(f32x4Add);
          code.emit(v128Store(offset));
        }
      },
      () => {
        code.emit(localGet(p.y), centredScalar(p.x, p.meanHigh, p.meanLow), localGet(p.invStd), f32Mul);
        code.emit(localGet(p.gamma), f32Load(), f32Mul, localGet(p.beta), f32Load(), f32Add, f32Store());
      },
    );
  },
);

/**
 * `channelGradientSums(dy, x, γ, dySum, dyXhatSum, n, μ_hi, μ_lo, s, out)`: per element,
 * dySum[c] += dy and dyXhatSum[c] += dy·(x − μ)·s (float32 arrays, which the caller drains into
 * float64 every few rows); out[0] = Σγ[c]·dy and out[1] = Σγ[c]·dy·(x − μ) over the row, in
 * float64 (pairs of float32 products added before each float64 addition).
 */
const channelGradientSums = defineFunction(
  "channelGradientSums",
  {
    dy: "i32",
    x: "i32",
    gamma: "i32",
    dySum: "i32",
    dyXhatSum: "i32",
    n: "i32",
    ...SPLIT_MEAN,
    invStd: "f32",
    out: "i32",
  },
  (code, p, declare) => {
    const [high, low, invStd] = [p.meanHigh, p.meanLow, p.invStd].map((parameter) =>
      splat(code, declare, parameter),
    );
    const g = locals(declare, "v128", 2);
    const product = locals(declare, "v128", 2);
    const [weightedG, weightedProduct] = [declare("v128"), declare("v128")];
    const gSums = locals(declare, "v128", 2);
    const productSums = locals(declare, "v128", 2);
    const [gTail, productTail, gScalar, productScalar] = [
      declare("f64"),
      declare("f64"),
      declare("f32"),
      declare("f32"),
    ];
    /** `sums[offset..] += vector` (float32), the vector times the s splat where `scaled`. */
    const addInto = (sums: number, offset: number, vector: number, scaled: boolean): Instruction[] => [
      ...[localGet(sums), localGet(sums), v128Load(offset), localGet(vector)],
      ...(scaled ? [localGet(invStd), f32x4Mul] : []),
      ...[f32x4Add, v128Store(offset)],
    ];
    overElements(
      code,
      declare,
      p.n,
      8,
      floats(p.dy, p.x, p.gamma, p.dySum, p.dyXhatSum),
      () => {
        for (let v = 0; v < 2; v++) {
          code.emit(localGet(p.dy), v128Load(16 * v), localSet(g + v));
          code.emit(localGet(g + v), centredVector(p.x, 16 * v, high, low), f32x4Mul, localSet(product + v));
          code.emit(addInto(p.dySum, 16 * v, g + v, false), addInto(p.dyXhatSum, 16 * v, product + v, true));
        }
        const weighted = (vector: number): Instruction[] => [
          ...[localGet(vector), localGet(p.gamma), v128Load(0), f32x4Mul],
          ...[localGet(vector + 1), localGet(p.gamma), v128Load(16), f32x4Mul, f32x4Add],
        ];
        code.emit(weighted(g), localSet(weightedG), weighted(product), localSet(weightedProduct));
        code.emit(accumulateHalves(weightedG, gSums, gSums + 1));
        code.emit(accumulateHalves(weightedProduct, productSums, productSums + 1));
      },
      () => {
        code.emit(localGet(p.dy), f32Load(), localSet(gScalar));
        code.emit(localGet(gScalar), centredScalar(p.x, p.meanHigh, p.meanLow), f32Mul);
        code.emit(localSet(productScalar));
        code.emit(localGet(p.dySum), localGet(p.dySum), f32Load(), localGet(gScalar), f32Add, f32Store());
        code.emit(localGet(p.dyXhatSum), localGet(p.dyXhatSum), f32Load(), localGet(productScalar));
        code.emit(localGet(p.invStd), f32Mul, f32Add, f32Store());
        for (const [scalar, tail] of [
          [gScalar, gTail],
          [productScalar, productTail],
        ] as const) {
          code.emit(localGet(tail), localGet(scalar), localGet(p.gamma), f32Load(), f32Mul, f64PromoteF32);
          code.emit(f64Add);
          code.emit(localSet(tail));
        }
      },
    );
    code.emit(storeTotal(p.out, 0, gSums, 2, gTail, weightedG));
    code.emit(storeTotal(p.out, F64, productSums, 2, productTail, weightedG));
  },
);

/** `inputGradientChannels(dy, x, dx, γ, n, μ_hi, μ_lo, s, k2, k3)`: dx = (s·dy)·γ[c] + k₂·(x − μ) + k₃. */
const inputGradientChannels = defineFunction(
  "inputGradientChannels",
  {
    dy: "i32",
    x: "i32",
    dx: "i32",
    gamma: "i32",
    n: "i32",
    ...SPLIT_MEAN,
    invStd: "f32",
    k2: "f32",
    k3: "f32",
  },
  (code, p, declare) => {
    const [high, low, invStd, k2, k3] = [p.meanHigh, p.meanLow, p.invStd, p.k2, p.k3].map((parameter) =>
      splat(code, declare, parameter),
    );
    overElements(
      code,
      declare,
      p.n,
      8,
      floats(p.dy, p.x, p.dx, p.gamma),
      () => {
        for (const offset of [0, 16]) {
          code.emit(localGet(p.dx), localGet(p.dy), v128Load(offset), localGet(invStd), f32x4Mul);
          code.emit(localGet(p.gamma), v128Load(offset), f32x4Mul);
          code.emit(centredVector(p.x, offset, high, low), localGet(k2), f32x4Mul, f32x4Add);
          code.emit(localGet(k3), f32x4Add, v128Store(offset));
        }
      },
      () => {
        code.emit(localGet(p.dx), localGet(p.dy), f32Load(), localGet(p.invStd), f32Mul, localGet(p.gamma));
        code.emit(f32Load());
        code.emit(f32Mul, centredScalar(p.x, p.meanHigh, p.meanLow), localGet(p.k2), f32Mul, f32Add);
        code.emit(localGet(p.k3), f32Add, f32Store());
      },
    );
  },
);

// ---- columns (BatchNorm on (N, C)) --------------------------------------------------------------

/** Channels per block of the column kernels: two f32x4, so each row step does two independent vectors. */
export const COLUMN_BLOCK = 8;

/**
 * The loops of a column kernel over `rows` rows `stride` bytes apart and `channels` (a multiple
 * of 8) columns: for each block of 8 channels, `begin`, then `row` for every row, then `finish`.
 * `blockPointers` advance by their bytes per block (the first, an x pointer, counts the blocks);
 * each row pointer restarts at its block pointer and advances a row at a time.
 */
function overColumns(
  code: Code,
  declare: Declare,
  p: { readonly rows: number; readonly stride: number; readonly channels: number },
  blockPointers: readonly { readonly local: number; readonly bytes: number }[],
  rowPointers: readonly { readonly block: number; readonly row: number }[],
  steps: { readonly begin: () => void; readonly row: () => void; readonly finish: () => void },
): void {
  const [counter] = blockPointers;
  const [firstRow] = rowPointers;
  if (counter === undefined || firstRow?.block !== counter.local) {
    throw new Error("overColumns counts blocks and rows with its first pointers, which must correspond");
  }
  const [columnEnd, rowEnd] = [declare("i32"), declare("i32")];
  code.emit(localGet(counter.local), localGet(p.channels), i32Const(F32), i32Mul, i32Add);
  code.emit(localSet(columnEnd));
  code.whileBelow(
    columnEnd,
    blockPointers.map(({ local, bytes }) => ({ local, step: bytes })),
    () => {
      steps.begin();
      for (const { block, row } of rowPointers) code.emit(localGet(block), localSet(row));
      code.emit(localGet(counter.local), localGet(p.rows), localGet(p.stride), i32Mul, i32Add);
      code.emit(localSet(rowEnd));
      code.whileBelow(
        rowEnd,
        rowPointers.map(({ row }) => ({ local: row, step: { local: p.stride } })),
        steps.row,
      );
      steps.finish();
    },
  );
}

const COLUMNS = { rows: "i32", stride: "i32", channels: "i32" } as const;

/** Loads `count` vectors from `pointer` into consecutive locals from `first`. */
const loadVectors = (pointer: number, first: number, count: number): Instruction[] =>
  Array.from({ length: count }, (_, v) => [localGet(pointer), v128Load(16 * v), localSet(first + v)]).flat();

/** Adds `count` consecutive f64x2 locals from `first` into the float64 array at `pointer`. */
const addVectorsInto = (pointer: number, first: number, count: number): Instruction[] =>
  Array.from({ length: count }, (_, v) => [
    ...[
      localGet(pointer),
      localGet(pointer),
      v128Load(16 * v),
      localGet(first + v),
      f64x2Add,
      v128Store(16 * v),
    ],
  ]).flat();

/** Zeroes `count` consecutive v128 locals from `first`. */
const zeroVectors = (first: number, count: number): Instruction[] =>
  Array.from({ length: count }, (_, v) => [v128Zero, localSet(first + v)]).flat();

/** The block pointers of a column kernel: float32 streams and arrays 32 bytes per block, float64 arrays 64. */
const blockOf = (f32: readonly number[], f64: readonly number[] = []) => [
  ...f32.map((local) => ({ local, bytes: COLUMN_BLOCK * F32 })),
  ...f64.map((local) => ({ local, bytes: COLUMN_BLOCK * F64 })),
];

/**
 * `columnShiftedSums(x, rows, stride, channels, shift, sum, squares)`: per column, Σ(x − shift[c])
 * and Σ(x − shift[c])² added into float64 arrays (shift is float64 too).
 */
const columnShiftedSums = defineFunction(
  "columnShiftedSums",
  { x: "i32", ...COLUMNS, shift: "i32", sum: "i32", squares: "i32" },
  (code, p, declare) => {
    const shift = locals(declare, "v128", 4);
    const sums = locals(declare, "v128", 4);
    const squares = locals(declare, "v128", 4);
    const [d, row] = [declare("v128"), declare("i32")];
    overColumns(code, declare, p, blockOf([p.x], [p.shift, p.sum, p.squares]), [{ block: p.x, row }], {
      begin: () => code.emit(loadVectors(p.shift, shift, 4), zeroVectors(sums, 4), zeroVectors(squares, 4)),
      row: () => {
        for (let h = 0; h < 4; h++) {
          code.emit(localGet(row), load64Zero(8 * h), f64x2PromoteLow, localGet(shift + h), f64x2Sub);
          code.emit(localSet(d));
          code.emit(localGet(sums + h), localGet(d), f64x2Add, localSet(sums + h));
          code.emit(localGet(squares + h), localGet(d), localGet(d), f64x2Mul, f64x2Add);
          code.emit(localSet(squares + h));
        }
      },
      finish: () => code.emit(addVectorsInto(p.sum, sums, 4), addVectorsInto(p.squares, squares, 4)),
    });
  },
);

/**
 * `columnGradientSums(x, dy, rows, stride, channels, μ_hi, dySum, dyCentred)`: per column, Σdy
 * and Σdy·(x − μ_hi[c]) over the rows in float32, then added into float64 arrays.
 */
const columnGradientSums = defineFunction(
  "columnGradientSums",
  { x: "i32", dy: "i32", ...COLUMNS, meanHigh: "i32", dySum: "i32", dyCentred: "i32" },
  (code, p, declare) => {
    const mean = locals(declare, "v128", 2);
    const gSums = locals(declare, "v128", 2);
    const productSums = locals(declare, "v128", 2);
    const [g, xRow, dyRow] = [declare("v128"), declare("i32"), declare("i32")];
    const halves = locals(declare, "v128", 4);
    /** Adds the two f32x4 sums from `first`, promoted, into the float64 array at `pointer`. */
    const flush = (first: number, pointer: number): Instruction[] => [
      ...zeroVectors(halves, 4),
      ...accumulateHalves(first, halves, halves + 1),
      ...accumulateHalves(first + 1, halves + 2, halves + 3),
      ...addVectorsInto(pointer, halves, 4),
    ];
    overColumns(
      code,
      declare,
      p,
      blockOf([p.x, p.dy, p.meanHigh], [p.dySum, p.dyCentred]),
      [
        { block: p.x, row: xRow },
        { block: p.dy, row: dyRow },
      ],
      {
        begin: () =>
          code.emit(loadVectors(p.meanHigh, mean, 2), zeroVectors(gSums, 2), zeroVectors(productSums, 2)),
        row: () => {
          for (let v = 0; v < 2; v++) {
            code.emit(localGet(dyRow), v128Load(16 * v), localSet(g));
            code.emit(localGet(gSums + v), localGet(g), f32x4Add, localSet(gSums + v));
            code.emit(localGet(productSums + v), localGet(g), localGet(xRow), v128Load(16 * v));
            code.emit(localGet(mean + v));
            code.emit(f32x4Sub, f32x4Mul, f32x4Add, localSet(productSums + v));
          }
        },
        finish: () => code.emit(flush(gSums, p.dySum), flush(productSums, p.dyCentred)),
      },
    );
  },
);

/** `columnAffine(x, y, rows, stride, channels, μ_hi, scale, shift)`: y = (x − μ_hi[c])·scale[c] + shift[c]. */
const columnAffine = defineFunction(
  "columnAffine",
  { x: "i32", y: "i32", ...COLUMNS, meanHigh: "i32", scale: "i32", shift: "i32" },
  (code, p, declare) => {
    const coefficients = [p.meanHigh, p.scale, p.shift];
    // Two vectors per coefficient, in this order.
    const mean = locals(declare, "v128", 2 * coefficients.length);
    const [scale, shift] = [mean + 2, mean + 4];
    const [xRow, yRow] = [declare("i32"), declare("i32")];
    overColumns(
      code,
      declare,
      p,
      blockOf([p.x, p.y, ...coefficients]),
      [
        { block: p.x, row: xRow },
        { block: p.y, row: yRow },
      ],
      {
        begin: () =>
          code.emit(coefficients.flatMap((pointer, index) => loadVectors(pointer, mean + 2 * index, 2))),
        row: () => {
          for (let v = 0; v < 2; v++) {
            code.emit(localGet(yRow), localGet(xRow), v128Load(16 * v), localGet(mean + v), f32x4Sub);
            code.emit(localGet(scale + v), f32x4Mul, localGet(shift + v), f32x4Add, v128Store(16 * v));
          }
        },
        finish: () => {},
      },
    );
  },
);

/** `columnInputGradient(x, dy, dx, rows, stride, channels, μ_hi, k1, k2, k3)`: dx = k₁[c]·dy + k₂[c]·(x − μ_hi[c]) + k₃[c]. */
const columnInputGradient = defineFunction(
  "columnInputGradient",
  { x: "i32", dy: "i32", dx: "i32", ...COLUMNS, meanHigh: "i32", k1: "i32", k2: "i32", k3: "i32" },
  (code, p, declare) => {
    const coefficients = [p.meanHigh, p.k1, p.k2, p.k3];
    // Two vectors per coefficient, in this order.
    const mean = locals(declare, "v128", 2 * coefficients.length);
    const [k1, k2, k3] = [mean + 2, mean + 4, mean + 6];
    const [xRow, dyRow, dxRow] = [declare("i32"), declare("i32"), declare("i32")];
    overColumns(
      code,
      declare,
      p,
      blockOf([p.x, p.dy, p.dx, ...coefficients]),
      [
        { block: p.x, row: xRow },
        { block: p.dy, row: dyRow },
        { block: p.dx, row: dxRow },
      ],
      {
        begin: () =>
          code.emit(coefficients.flatMap((pointer, index) => loadVectors(pointer, mean + 2 * index, 2))),
        row: () => {
          for (let v = 0; v < 2; v++) {
            code.emit(localGet(dxRow), localGet(dyRow), v128Load(16 * v), localGet(k1 + v), f32x4Mul);
            code.emit(localGet(xRow), v128Load(16 * v), localGet(mean + v), f32x4Sub, localGet(k2 + v));
            code.emit(f32x4Mul);
            code.emit(f32x4Add, localGet(k3 + v), f32x4Add, v128Store(16 * v));
          }
        },
        finish: () => {},
      },
    );
  },
);

/** `copyRows(from, to, rows, fromStride, toStride, rowBytes)`: copies `rows` rows of `rowBytes` between strided layouts. */
const copyRows = defineFunction(
  "copyRows",
  { from: "i32", to: "i32", rows: "i32", fromStride: "i32", toStride: "i32", rowBytes: "i32" },
  (code, p, declare) => {
    const end = declare("i32");
    code.emit(localGet(p.from), localGet(p.rows), localGet(p.fromStride), i32Mul, i32Add, localSet(end));
    const strides = [
      { local: p.from, step: { local: p.fromStride } },
      { local: p.to, step: { local: p.toStride } },
    ];
    code.whileBelow(end, strides, () =>
      code.emit(localGet(p.to), localGet(p.from), localGet(p.rowBytes), memoryCopy),
    );
  },
);

const kernelFunctions = {
  copyRows,
  shiftedSums,
  gradientSums,
  affine,
  inputGradient,
  affineChannels,
  channelGradientSums,
  inputGradientChannels,
  columnShiftedSums,
  columnGradientSums,
  columnAffine,
  columnInputGradient,
};

/** The instantiated kernels by name (each documented above), and the memory they read and write. */
export type NormKernels = { readonly [K in keyof typeof kernelFunctions]: (...args: number[]) => void } & {
  readonly memory: WasmMemory;
};

function instantiateKernels(): NormKernels | undefined {
  const instance = instantiate(emitModule(Object.values(kernelFunctions)));
  if (instance === undefined) return undefined;
  const exported = (f: EmittedFunction): ((...args: number[]) => void) => {
    const kernel = instance.functions.get(f.name);
    if (kernel === undefined) throw new Error(`the wasm norm module lacks its ${f.name} export`);
    return kernel;
  };
  return {
    memory: instance.memory,
    copyRows: exported(copyRows),
    shiftedSums: exported(shiftedSums),
    gradientSums: exported(gradientSums),
    affine: exported(affine),
    inputGradient: exported(inputGradient),
    affineChannels: exported(affineChannels),
    channelGradientSums: exported(channelGradientSums),
    inputGradientChannels: exported(inputGradientChannels),
    columnShiftedSums: exported(columnShiftedSums),
    columnGradientSums: exported(columnGradientSums),
    columnAffine: exported(columnAffine),
    columnInputGradient: exported(columnInputGradient),
  };
}

/** The kernels, compiled synchronously (the module is a few KB), or undefined where WebAssembly SIMD is missing. */
export const normKernels: NormKernels | undefined = instantiateKernels();
