// Max pooling over 2×2 windows with stride 2 (MaxPool2d(2)) on float32 in WebAssembly SIMD: values and indices.
import {
  defineFunction,
  emitModule,
  ensureMemory,
  f32Gt,
  f32Load,
  f32Ne,
  f32Store,
  f32x4Gt,
  f32x4Ne,
  type Instruction,
  i8x16Shuffle,
  i32Add,
  i32And,
  i32Const,
  i32Mul,
  i32Or,
  i32Store,
  i32x4Add,
  i32x4Splat,
  instantiate,
  localGet,
  localSet,
  select,
  v128Bitselect,
  v128ConstI32,
  v128Load,
  v128Or,
  v128Store,
} from "./wasm-module.ts";

// Why: the JavaScript loop's comparisons depend on the data, so they mispredict (W5's two pools
// took 3.4 ms per step); here four windows are compared at once with masks. The rule is the
// JavaScript kernels': in row-major order, a value wins if it is greater or NaN (the first
// maximum wins ties, the last NaN wins), and the index is y·width + x within the plane.

const F32 = 4;
/** Floats of input in wasm memory at a time (whole planes): 256 KB. */
const WINDOW = 65536;
const INPUT = 0;
const VALUES = INPUT + WINDOW * F32;
const INDICES = VALUES + (WINDOW / 4) * F32;
const MEMORY_BYTES = INDICES + (WINDOW / 4) * F32;

/** Bytes of floats 0, 2 (first vector) and 0, 2 (second): the even columns of 8 floats. */
const EVEN = i8x16Shuffle([0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27]);
/** Floats 1, 3 of each vector: the odd columns. */
const ODD = i8x16Shuffle([4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31]);

/**
 * `maxPool2x2(x, values, indices, planes, height, width, outH, outW)`: for each plane of
 * height × width floats, each output (oy, ox) the max of x[2oy..2oy+1][2ox..2ox+1] and its index.
 */
const maxPool2x2 = defineFunction(
  "maxPool2x2",
  {
    x: "i32",
    values: "i32",
    indices: "i32",
    planes: "i32",
    height: "i32",
    width: "i32",
    outH: "i32",
    outW: "i32",
  },
  (code, p, declare) => {
    const i32 = () => declare("i32");
    const [planeBytes, rowBytes, twoRowBytes, twoWidth, planeEnd, rowTop, rowEnd, rowIndex] = Array.from(
      { length: 8 },
      i32,
    );
    const [top, bottom, vectorEnd, end, column, take, indexScalar] = Array.from({ length: 7 }, i32);
    const v128 = () => declare("v128");
    const [best, index, base, mask, first, second] = Array.from({ length: 6 }, v128);
    const [topOdd, bottomEven, bottomOdd, one, below, belowNext] = Array.from({ length: 6 }, v128);
    const [bestScalar, valueScalar] = [declare("f32"), declare("f32")];
    code.emit(localGet(p.width), i32Const(F32), i32Mul, localSet(rowBytes));
    code.emit(localGet(rowBytes), i32Const(2), i32Mul, localSet(twoRowBytes));
    code.emit(localGet(p.width), i32Const(2), i32Mul, localSet(twoWidth));
    code.emit(localGet(rowBytes), localGet(p.height), i32Mul, localSet(planeBytes));
    code.emit(localGet(p.x), localGet(p.planes), localGet(planeBytes), i32Mul, i32Add, localSet(planeEnd));
    code.emit(i32Const(1), i32x4Splat, localSet(one), localGet(p.width), i32x4Splat, localSet(below));
    code.emit(localGet(p.width), i32Const(1), i32Add, i32x4Splat, localSet(belowNext));
    /** Where `value` is greater than best or NaN: takes it, and the index lanes base + `offset`. */
    const vectorStep = (value: number, offset: number): Instruction[] => [
      ...[
        localGet(value),
        localGet(best),
        f32x4Gt,
        localGet(value),
        localGet(value),
        f32x4Ne,
        v128Or,
        localSet(mask),
      ],
      ...[localGet(value), localGet(best), localGet(mask), v128Bitselect, localSet(best)],
      ...[
        localGet(base),
        localGet(offset),
        i32x4Add,
        localGet(index),
        localGet(mask),
        v128Bitselect,
        localSet(index),
      ],
    ];
    /** The same for the float at `pointer` (+4 for the odd column), index column + `offset`. */
    const scalarStep = (pointer: number, odd: boolean, offset: Instruction[]): Instruction[] => [
      ...[localGet(pointer), f32Load(odd ? F32 : 0), localSet(valueScalar)],
      ...[
        localGet(valueScalar),
        localGet(bestScalar),
        f32Gt,
        localGet(valueScalar),
        localGet(valueScalar),
        f32Ne,
      ],
      ...[
        i32Or,
        localSet(take),
        localGet(valueScalar),
        localGet(bestScalar),
        localGet(take),
        select,
        localSet(bestScalar),
      ],
      ...[
        localGet(column),
        ...offset,
        i32Add,
        localGet(indexScalar),
        localGet(take),
        select,
        localSet(indexScalar),
      ],
    ];
    code.whileBelow(planeEnd, [{ local: p.x, step: { local: planeBytes } }], () => {
      code.emit(localGet(p.x), localSet(rowTop), i32Const(0), localSet(rowIndex));
      code.emit(localGet(p.x), localGet(p.outH), localGet(twoRowBytes), i32Mul, i32Add, localSet(rowEnd));
      const rowStrides = [
        { local: rowTop, step: { local: twoRowBytes } },
        { local: rowIndex, step: { local: twoWidth } },
      ];
      code.whileBelow(rowEnd, rowStrides, () => {
        code.emit(localGet(rowTop), localSet(top), localGet(rowIndex), localSet(column));
        code.emit(localGet(rowTop), localGet(p.outW), i32Const(-4), i32And, i32Const(8), i32Mul, i32Add);
        code.emit(localSet(vectorEnd));
        code.emit(localGet(rowTop), localGet(p.outW), i32Const(8), i32Mul, i32Add, localSet(end));
        const vectorStrides = [
          { local: top, step: 32 },
          { local: p.values, step: 16 },
          { local: p.indices, step: 16 },
          { local: column, step: 8 },
        ];
        code.whileBelow(vectorEnd, vectorStrides, () => {
          code.emit(localGet(top), localGet(rowBytes), i32Add, localSet(bottom));
          code.emit(localGet(top), v128Load(), localSet(first), localGet(top), v128Load(16));
          code.emit(localSet(second));
          code.emit(localGet(first), localGet(second), EVEN, localSet(best), localGet(first));
          code.emit(localGet(second), ODD);
          code.emit(localSet(topOdd), localGet(bottom), v128Load(), localSet(first), localGet(bottom));
          code.emit(v128Load(16));
          code.emit(localSet(second), localGet(first), localGet(second), EVEN, localSet(bottomEven));
          code.emit(localGet(first), localGet(second), ODD, localSet(bottomOdd));
          code.emit(localGet(column), i32x4Splat, v128ConstI32([0, 2, 4, 6]), i32x4Add, localSet(base));
          code.emit(localGet(base), localSet(index));
          code.emit(vectorStep(topOdd, one), vectorStep(bottomEven, below), vectorStep(bottomOdd, belowNext));
          code.emit(localGet(p.values), localGet(best), v128Store(), localGet(p.indices), localGet(index));
          code.emit(v128Store());
        });
        const scalarStrides = [
          { local: top, step: 8 },
          { local: p.values, step: F32 },
          { local: p.indices, step: F32 },
          { local: column, step: 2 },
        ];
        code.whileBelow(end, scalarStrides, () => {
          code.emit(localGet(top), localGet(rowBytes), i32Add, localSet(bottom));
          code.emit(localGet(top), f32Load(), localSet(bestScalar), localGet(column), localSet(indexScalar));
          code.emit(scalarStep(top, true, [i32Const(1)]), scalarStep(bottom, false, [localGet(p.width)]));
          code.emit(scalarStep(bottom, true, [localGet(p.width), i32Const(1), i32Add]));
          code.emit(localGet(p.values), localGet(bestScalar), f32Store(), localGet(p.indices));
          code.emit(localGet(indexScalar));
          code.emit(i32Store());
        });
      });
    });
  },
);

const instance = instantiate(emitModule([maxPool2x2]));
if (instance !== undefined) ensureMemory(instance.memory, MEMORY_BYTES);
const kernel = instance?.functions.get(maxPool2x2.name);

let enabled = true;

/** Switches this kernel on or off (default on): off runs the JavaScript loop (for tests and comparisons). */
export function configureWasmPool2d(options: { enabled: boolean }): void {
  enabled = options.enabled;
}

/**
 * Max over the 2×2 windows with stride 2 of `planes` planes of height × width floats of `x`
 * from `offset` (outH = ⌊height/2⌋, outW = ⌊width/2⌋ or fewer), into `values` and `indices`
 * (y·width + x within the plane). False, with nothing written, where wasm SIMD is missing or
 * switched off, or a plane does not fit the window (256 KB).
 */
export function wasmMaxPool2x2(
  x: Float32Array,
  offset: number,
  planes: number,
  [height, width, outH, outW]: readonly [number, number, number, number],
  values: Float32Array,
  indices: Int32Array,
): boolean {
  const plane = height * width;
  if (!enabled || kernel === undefined || instance === undefined || plane > WINDOW || plane === 0)
    return false;
  const floats = new Float32Array(instance.memory.buffer);
  const ints = new Int32Array(instance.memory.buffer);
  const perWindow = Math.floor(WINDOW / plane);
  const outputs = outH * outW;
  for (let first = 0; first < planes; first += perWindow) {
    const count = Math.min(perWindow, planes - first);
    floats.set(x.subarray(offset + first * plane, offset + (first + count) * plane), INPUT / F32);
    kernel(INPUT, VALUES, INDICES, count, height, width, outH, outW);
    values.set(floats.subarray(VALUES / F32, VALUES / F32 + count * outputs), first * outputs);
    indices.set(ints.subarray(INDICES / F32, INDICES / F32 + count * outputs), first * outputs);
  }
  return true;
}
