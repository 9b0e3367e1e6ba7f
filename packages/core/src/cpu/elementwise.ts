// The CPU elementwise kernels: unary, binary, where and copy (a strided read, with a cast when dtypes differ).
import type { ArithmeticOp, BinaryOp, UnaryOp, View } from "../backend.ts";
import { type DType, dtypeOfArray, type TypedArray } from "../dtype.ts";
import { shapeSize } from "../shape.ts";
import { recycleArray, takeArray } from "./buffer-pool.ts";
import { cpuData } from "./cpu-buffer.ts";
import { erf } from "./erf.ts";
import { coalesceDims, forEachRow, innerExtent, isContiguous } from "./strided.ts";
import { wasmGreaterThan, wasmMultiply, wasmRelu } from "./wasm-elementwise.ts";

function unaryFunction(op: UnaryOp): (x: number) => number {
  switch (op) {
    case "neg":
      return (x) => -x;
    case "exp":
      return Math.exp;
    case "log":
      return Math.log;
    case "sqrt":
      return Math.sqrt;
    case "recip":
      return (x) => 1 / x;
    case "tanh":
      return Math.tanh;
    // Two branches so that exp never overflows: σ(x) = 1/(1+e^−x) = e^x/(1+e^x).
    case "sigmoid":
      return (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
    case "relu":
      return (x) => Math.max(x, 0);
    case "abs":
      return Math.abs;
    case "sign":
      return Math.sign;
    case "erf":
      return erf;
    case "sin":
      return Math.sin;
    case "cos":
      return Math.cos;
    case "atan":
      return Math.atan;
    case "log1p":
      return Math.log1p;
    case "expm1":
      return Math.expm1;
    default:
      return op satisfies never;
  }
}

function binaryFunction(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case "add":
      return (a, b) => a + b;
    case "sub":
      return (a, b) => a - b;
    case "mul":
      return (a, b) => a * b;
    case "div":
      return (a, b) => a / b;
    case "pow":
      return Math.pow;
    // NaN propagates through maximum/minimum, as in PyTorch.
    case "maximum":
      return (a, b) => (a > b || Number.isNaN(a) ? a : b);
    case "minimum":
      return (a, b) => (a < b || Number.isNaN(a) ? a : b);
    case "eq":
      return (a, b) => (a === b ? 1 : 0);
    case "ne":
      return (a, b) => (a !== b ? 1 : 0);
    case "lt":
      return (a, b) => (a < b ? 1 : 0);
    case "le":
      return (a, b) => (a <= b ? 1 : 0);
    case "gt":
      return (a, b) => (a > b ? 1 : 0);
    case "ge":
      return (a, b) => (a >= b ? 1 : 0);
    default:
      return op satisfies never;
  }
}

/**
 * ReLU's backward ops (the `gt` mask against a scalar, dy·mask) on a contiguous float32 row, on
 * the wasm kernels; false where they do not apply.
 */
function float32Row(
  op: BinaryOp,
  out: TypedArray,
  o: number,
  a: TypedArray,
  ia: number,
  sa: number,
  b: TypedArray,
  ib: number,
  sb: number,
  n: number,
): boolean {
  if (sa !== 1 || !(a instanceof Float32Array)) return false;
  if (op === "gt") {
    if (sb !== 0 || !(out instanceof Uint8Array) || o !== 0 || out.length !== n) return false;
    // The wasm kernel writes int32 lanes; a typed-array copy narrows them to the bool bytes.
    const lanes = takeArray("int32", n, true);
    const done = lanes instanceof Int32Array && wasmGreaterThan(a, ia, b[ib], lanes, n);
    if (done) out.set(lanes);
    recycleArray(lanes);
    return done;
  }
  if (op !== "mul" || sb !== 1 || !(out instanceof Float32Array) || o !== 0 || out.length !== n) return false;
  if (b instanceof Uint8Array) {
    const widened = takeArray("int32", n, true);
    widened.set(b.subarray(ib, ib + n));
    const done = widened instanceof Int32Array && wasmMultiply(a, ia, widened, 0, out, n);
    recycleArray(widened);
    return done;
  }
  return (b instanceof Int32Array || b instanceof Float32Array) && wasmMultiply(a, ia, b, ib, out, n);
}

/** The hot ops get their own loops: one indirect call per element costs ~3x here. */
function binaryRow(
  op: BinaryOp,
  out: TypedArray,
  o: number,
  a: TypedArray,
  ia: number,
  sa: number,
  b: TypedArray,
  ib: number,
  sb: number,
  n: number,
): boolean {
  switch (op) {
    case "add":
      for (let j = 0; j < n; j++) out[o + j] = a[ia + j * sa] + b[ib + j * sb];
      return true;
    case "sub":
      for (let j = 0; j < n; j++) out[o + j] = a[ia + j * sa] - b[ib + j * sb];
      return true;
    case "mul":
      for (let j = 0; j < n; j++) out[o + j] = a[ia + j * sa] * b[ib + j * sb];
      return true;
    case "div":
      for (let j = 0; j < n; j++) out[o + j] = a[ia + j * sa] / b[ib + j * sb];
      return true;
    // ReLU's backward masks with `gt` on every step.
    case "gt":
      for (let j = 0; j < n; j++) out[o + j] = +(a[ia + j * sa] > b[ib + j * sb]);
      return true;
    case "eq":
      for (let j = 0; j < n; j++) out[o + j] = +(a[ia + j * sa] === b[ib + j * sb]);
      return true;
    default:
      return false;
  }
}

function isArithmetic(op: BinaryOp): op is ArithmeticOp {
  return (
    op === "add" ||
    op === "sub" ||
    op === "mul" ||
    op === "div" ||
    op === "pow" ||
    op === "maximum" ||
    op === "minimum"
  );
}

/** Copies a strided view into a contiguous typed array of `dtype` (a cast when dtypes differ). */
export function copy(view: View, dtype: DType): TypedArray {
  const source = cpuData(view.buffer);
  const size = shapeSize(view.shape);
  if (isContiguous(view.shape, view.strides) && dtypeOfArray(source) === dtype) {
    const whole = takeArray(dtype, size, true);
    whole.set(source.subarray(view.offset, view.offset + size));
    return whole;
  }
  const out = takeArray(dtype, size, true);
  const walk = coalesceDims(view.shape, [view.strides]);
  const [n, s] = innerExtent(walk.shape, walk.strides[0]);
  let o = 0;
  // A byte array would keep 0.5 as 0 and 256 as 0: bool is "nonzero", NaN included.
  const toBool = dtype === "bool" && !(source instanceof Uint8Array);
  forEachRow(walk.shape, walk.strides, [view.offset], ([base]) => {
    if (toBool) for (let j = 0; j < n; j++) out[o++] = source[base + j * s] !== 0 ? 1 : 0;
    else for (let j = 0; j < n; j++) out[o++] = source[base + j * s];
  });
  return out;
}

/** `op` applied to every element of `x`, as a contiguous array of `dtype`. */
export function unary(op: UnaryOp, x: View, dtype: DType): TypedArray {
  const source = cpuData(x.buffer);
  const out = takeArray(dtype, shapeSize(x.shape), true);
  const walk = coalesceDims(x.shape, [x.strides]);
  const [n, s] = innerExtent(walk.shape, walk.strides[0]);
  let o = 0;
  if (
    op === "relu" &&
    s === 1 &&
    n === out.length &&
    source instanceof Float32Array &&
    out instanceof Float32Array
  ) {
    // Contiguous float32 (the common case) on the branchless wasm kernel; see wasm-elementwise.ts.
    if (wasmRelu(source, x.offset, out, n)) return out;
  }
  if (op === "relu") {
    forEachRow(walk.shape, walk.strides, [x.offset], ([base]) => {
      for (let j = 0; j < n; j++, o++) {
        const value = source[base + j * s];
        out[o] = Math.max(value, 0);
      }
    });
  } else {
    const f = unaryFunction(op);
    forEachRow(walk.shape, walk.strides, [x.offset], ([base]) => {
      for (let j = 0; j < n; j++) out[o++] = f(source[base + j * s]);
    });
  }
  return out;
}

/** `op` applied to `a` and `b` (same shape, broadcast by strides); comparisons give bool 0/1. */
export function binary(op: BinaryOp, a: View, b: View, dtype: DType): TypedArray {
  const da = cpuData(a.buffer);
  const db = cpuData(b.buffer);
  const out = takeArray(isArithmetic(op) ? dtype : "bool", shapeSize(a.shape), true);
  const walk = coalesceDims(a.shape, [a.strides, b.strides]);
  const [n, sa] = innerExtent(walk.shape, walk.strides[0]);
  const sb = innerExtent(walk.shape, walk.strides[1])[1];
  const f = binaryFunction(op);
  let o = 0;
  forEachRow(walk.shape, walk.strides, [a.offset, b.offset], ([ia, ib]) => {
    if (
      !float32Row(op, out, o, da, ia, sa, db, ib, sb, n) &&
      !binaryRow(op, out, o, da, ia, sa, db, ib, sb, n)
    ) {
      for (let j = 0; j < n; j++) out[o + j] = f(da[ia + j * sa], db[ib + j * sb]);
    }
    o += n;
  });
  return out;
}

/** `a` where `condition` is nonzero, else `b` (all three the same shape, broadcast by strides). */
export function where(condition: View, a: View, b: View, dtype: DType): TypedArray {
  const dc = cpuData(condition.buffer);
  const da = cpuData(a.buffer);
  const db = cpuData(b.buffer);
  const out = takeArray(dtype, shapeSize(a.shape), true);
  const walk = coalesceDims(a.shape, [condition.strides, a.strides, b.strides]);
  const [n, sc] = innerExtent(walk.shape, walk.strides[0]);
  const sa = innerExtent(walk.shape, walk.strides[1])[1];
  const sb = innerExtent(walk.shape, walk.strides[2])[1];
  let o = 0;
  forEachRow(walk.shape, walk.strides, [condition.offset, a.offset, b.offset], ([ic, ia, ib]) => {
    for (let j = 0; j < n; j++) out[o++] = dc[ic + j * sc] !== 0 ? da[ia + j * sa] : db[ib + j * sb];
  });
  return out;
}
