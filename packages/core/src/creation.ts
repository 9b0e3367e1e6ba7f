// Creating tensors: from nested arrays or typed arrays, constants, ranges and identity matrices.
import type { Device } from "./backend.ts";
import { getBackend } from "./devices.ts";
import {
  allocateTypedArray,
  assertDType,
  assertInt32,
  type DType,
  dtypeOfArray,
  type TypedArray,
} from "./dtype.ts";
import { assertValidShape, contiguousStrides, formatShape, type Shape, shapeSize } from "./shape.ts";
import { Storage } from "./storage.ts";
import { type NestedArray, Tensor } from "./tensor.ts";

/** Options shared by the creation functions. */
export interface TensorOptions {
  /** Default float32 (int32 for integer ranges and random integers). */
  dtype?: DType;
  /** Default "cpu". */
  device?: Device;
  /** Default false. */
  requiresGrad?: boolean;
}

/** Builds a tensor from host values (already flat and row-major): exactly one value per element of `shape`. */
export function fromValues(values: ArrayLike<number>, shape: Shape, options: TensorOptions = {}): Tensor {
  assertValidShape(shape);
  if (values.length !== shapeSize(shape)) {
    throw new RangeError(
      `fromValues: shape ${formatShape(shape)} needs ${shapeSize(shape)} values, got ${values.length}`,
    );
  }
  const dtype = options.dtype ?? "float32";
  assertDType(dtype);
  const backend = getBackend(options.device ?? "cpu");
  if (!backend.dtypes.includes(dtype)) {
    throw new TypeError(`device "${backend.device}" does not support ${dtype}; create it on "cpu" instead`);
  }
  if (dtype === "int32" && !(values instanceof Int32Array)) {
    for (let i = 0; i < values.length; i++) assertInt32(values[i], `int32 value at index ${i}`);
  }
  const typed = allocateTypedArray(dtype, values.length);
  if (dtype === "bool") for (let i = 0; i < values.length; i++) typed[i] = values[i] !== 0 ? 1 : 0;
  else if (ArrayBuffer.isView(values)) typed.set(values);
  else for (let i = 0; i < values.length; i++) typed[i] = values[i];
  const out = new Tensor(new Storage(backend, backend.upload(typed)), shape, contiguousStrides(shape), 0);
  if (options.requiresGrad) out.requiresGrad = true;
  return out;
}

/** What `tensor()` takes: numbers, or booleans (PyTorch's `torch.tensor([True, False])`), nested. */
export type NestedValues = NestedArray | boolean | NestedValues[];

function inferShape(data: NestedValues): number[] {
  const shape: number[] = [];
  let level: NestedValues = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

/** Pushes the leaves as numbers (true is 1); returns whether every leaf was a boolean. */
function flatten(data: NestedValues, shape: Shape, axis: number, into: number[]): boolean {
  if (axis === shape.length) {
    if (typeof data !== "number" && typeof data !== "boolean")
      throw new TypeError(`tensor(): ragged nested array (expected a number at depth ${axis})`);
    into.push(Number(data));
    return typeof data === "boolean";
  }
  if (!Array.isArray(data) || data.length !== shape[axis]) {
    throw new TypeError(
      `tensor(): ragged nested array: expected ${shape[axis]} items at depth ${axis} (shape ${formatShape(shape)})`,
    );
  }
  let booleans = true;
  for (const item of data) booleans = flatten(item, shape, axis + 1, into) && booleans;
  return booleans;
}

/**
 * A tensor from nested arrays (`tensor([[1, 2], [3, 4]])`), a number (a scalar), or a flat typed
 * array with `shape` (default 1-D). The dtype defaults to float32 (bool when every value is a
 * boolean, as `torch.tensor([True, False])`), or to the typed array's own (Uint8Array: bool).
 */
export function tensor(
  data: NestedValues | TypedArray,
  options: TensorOptions & { shape?: Shape } = {},
): Tensor {
  if (ArrayBuffer.isView(data)) {
    const shape = options.shape ?? [data.length];
    assertValidShape(shape);
    if (shapeSize(shape) !== data.length) {
      throw new RangeError(
        `tensor(): shape ${formatShape(shape)} needs ${shapeSize(shape)} values, got ${data.length}`,
      );
    }
    return fromValues(data, shape, { dtype: dtypeOfArray(data), ...options });
  }
  const inferred = inferShape(data);
  const values: number[] = [];
  const booleans = flatten(data, inferred, 0, values) && values.length > 0;
  const shape = options.shape ?? inferred;
  assertValidShape(shape);
  if (shapeSize(shape) !== values.length) {
    throw new RangeError(
      `tensor(): shape ${formatShape(shape)} needs ${shapeSize(shape)} values, got ${values.length}`,
    );
  }
  return fromValues(values, shape, { dtype: booleans ? "bool" : "float32", ...options });
}

/** `value` everywhere. */
export function full(shape: Shape, value: number, options: TensorOptions = {}): Tensor {
  assertValidShape(shape);
  const dtype = options.dtype ?? "float32";
  assertDType(dtype);
  if (dtype === "int32") assertInt32(value, "full");
  const backend = getBackend(options.device ?? "cpu");
  const out = new Tensor(
    new Storage(backend, backend.full(shapeSize(shape), value, dtype)),
    shape,
    contiguousStrides(shape),
    0,
  );
  if (options.requiresGrad) out.requiresGrad = true;
  return out;
}

/** Zeros. */
export function zeros(shape: Shape, options: TensorOptions = {}): Tensor {
  return full(shape, 0, options);
}

/** Ones. */
export function ones(shape: Shape, options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** Zeros shaped like `like` (its dtype and device unless overridden). */
export function zerosLike(like: Tensor, options: TensorOptions = {}): Tensor {
  return full(like.shape, 0, { dtype: like.dtype, device: like.device, ...options });
}

/** Ones shaped like `like`. */
export function onesLike(like: Tensor, options: TensorOptions = {}): Tensor {
  return full(like.shape, 1, { dtype: like.dtype, device: like.device, ...options });
}

/** `value` everywhere, shaped like `like`. */
export function fullLike(like: Tensor, value: number, options: TensorOptions = {}): Tensor {
  return full(like.shape, value, { dtype: like.dtype, device: like.device, ...options });
}

/**
 * `start, start+step, …` below `end` (PyTorch's `arange`); `arange(n)` is 0..n−1. The dtype is
 * int32 when all three are integers, else float32.
 */
export function arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  const [from, to] = end === undefined ? [0, start] : [start, end];
  if (step === 0 || !Number.isFinite(step))
    throw new RangeError(`arange: step must be finite and non-zero, got ${step}`);
  if (!Number.isFinite(from) || !Number.isFinite(to))
    throw new RangeError(`arange: start and end must be finite, got ${from} and ${to}`);
  const count = Math.max(0, Math.ceil((to - from) / step));
  const integral = [from, to, step].every(Number.isInteger);
  const values = Array.from({ length: count }, (_, i) => from + i * step);
  return fromValues(values, [count], { dtype: integral ? "int32" : "float32", ...options });
}

/** `steps` evenly spaced values from `start` to `end` inclusive. */
export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0)
    throw new RangeError(`linspace: steps must be a non-negative integer, got ${steps}`);
  const delta = steps > 1 ? (end - start) / (steps - 1) : 0;
  // Fill from both ends so the last value is exactly `end`, as PyTorch does.
  const values = Array.from({ length: steps }, (_, i) =>
    i < steps / 2 ? start + i * delta : end - (steps - 1 - i) * delta,
  );
  return fromValues(values, [steps], options);
}

/** The n×m identity matrix (m defaults to n). */
export function eye(n: number, m = n, options: TensorOptions = {}): Tensor {
  if (![n, m].every((size) => Number.isInteger(size) && size >= 0))
    throw new RangeError(`eye: n and m must be non-negative integers, got ${n} and ${m}`);
  const values = Array.from({ length: n * m }, (_, i) => (Math.floor(i / m) === i % m ? 1 : 0));
  return fromValues(values, [n, m], options);
}
