// The Backend interface every device implements: storage plus a small set of compute kernels.
import type { DType, TypedArray } from "./dtype.ts";
import type { Shape } from "./shape.ts";

/** The devices normgrad knows. `cpu` is always present; `gpu` is registered by `@normgrad/gpu`. */
export type Device = "cpu" | "gpu";

/** A block of device memory holding `size` elements of `dtype`. Tensors share buffers through views. */
export interface DeviceBuffer {
  readonly device: Device;
  readonly dtype: DType;
  readonly size: number;
}

/** A strided window onto a buffer: element (i0, i1, …) lives at `offset + Σ ik·strides[k]`. */
export interface View {
  readonly buffer: DeviceBuffer;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

/** Elementwise functions of one input. */
export type UnaryOp =
  | "neg"
  | "exp"
  | "log"
  | "sqrt"
  | "recip"
  | "tanh"
  | "sigmoid"
  | "relu"
  | "abs"
  | "sign"
  | "erf";

/** Arithmetic of two inputs; the result has the promoted dtype. */
export type ArithmeticOp = "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum";

/** Comparisons of two inputs; the result is an int32 mask of 0s and 1s (normgrad has no bool dtype). */
export type CompareOp = "eq" | "ne" | "lt" | "le" | "gt" | "ge";

/** Every elementwise function of two inputs. */
export type BinaryOp = ArithmeticOp | CompareOp;

/** Reductions over a set of axes. `argmax`/`argmin` reduce one axis and return int32 indices. */
export type ReduceOp = "sum" | "max" | "min" | "argmax" | "argmin";

/** Per-axis (before, after) padding. */
export type Padding = readonly (readonly [number, number])[];

/**
 * What a device must supply. Inputs are strided views; every kernel returns a fresh contiguous
 * buffer. Shapes are already checked and broadcast by the frontend (broadcast inputs arrive as
 * views with stride 0), so a backend never validates user input.
 */
export interface Backend {
  readonly device: Device;
  /** The dtypes this backend computes in; others are refused by the frontend with a clear error. */
  readonly dtypes: readonly DType[];

  /** Copies host values into a new buffer. */
  upload(values: TypedArray): DeviceBuffer;
  /** A new buffer of `size` elements all equal to `value`. */
  full(size: number, value: number, dtype: DType): DeviceBuffer;
  /** A contiguous row-major host copy of a view; throws where the device cannot read synchronously. */
  read(view: View): TypedArray;
  /** A contiguous row-major host copy of a view. */
  readAsync(view: View): Promise<TypedArray>;
  /** Frees a buffer; using it afterwards is a bug the frontend prevents. */
  release(buffer: DeviceBuffer): void;
  /** Buffers allocated and not yet released (for leak tests). */
  liveBuffers(): number;
  /** Overwrites every element of `target` with `source` (same size and dtype): in-place updates. */
  writeInto(target: DeviceBuffer, source: DeviceBuffer): void;

  unary(op: UnaryOp, x: View, dtype: DType): DeviceBuffer;
  /** `a` and `b` have the same shape; `dtype` is the computation dtype (comparisons still return int32). */
  binary(op: BinaryOp, a: View, b: View, dtype: DType): DeviceBuffer;
  where(condition: View, a: View, b: View, dtype: DType): DeviceBuffer;
  /** Reduces `axes` (sorted); the result has those axes removed. */
  reduce(op: ReduceOp, x: View, axes: readonly number[]): DeviceBuffer;
  /** Batched `a @ b` for `a` (…, M, K) and `b` (…, K, N) with equal batch dims. */
  matmul(a: View, b: View, dtype: DType): DeviceBuffer;
  /** A contiguous copy, converted to `dtype`. */
  copy(x: View, dtype: DType): DeviceBuffer;
  pad(x: View, padding: Padding, value: number): DeviceBuffer;
  /** Concatenates views that agree on every axis but `axis`. */
  cat(xs: readonly View[], axis: number, dtype: DType): DeviceBuffer;
  /** `out[i][j][k] = x[i][index[i][j][k]][k]` for `axis` 1 (torch.gather); the result has index's shape. */
  gather(x: View, axis: number, index: View): DeviceBuffer;
  /** The adjoint of gather: zeros of `shape`, then `out[…index…] += source`. */
  scatterAdd(source: View, axis: number, index: View, shape: Shape): DeviceBuffer;
}
