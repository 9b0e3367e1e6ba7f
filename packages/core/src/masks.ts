// Masks: maskedFill and maskedSelect, any/all, isnan/isinf/isfinite, nonzero and the logical ops, on bool (or int32 0/1) masks.
import { fromValues } from "./creation.ts";
import { isMaskDtype, type TypedArray } from "./dtype.ts";
import { formatValue } from "./format.ts";
import * as P from "./primitives.ts";
import { broadcastShapes, formatShape, normalizeAxes } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/** Checks a mask is bool (or int32 0/1, which keeps working) and broadcasts to `shape`. */
function assertMask(op: string, mask: Tensor, shape: readonly number[]): void {
  if (!isMaskDtype(mask.dtype)) {
    throw new TypeError(
      `${op}: the mask must be bool (or int32 0/1), got ${mask.dtype}: build it with a comparison such as x.gt(0)`,
    );
  }
  let fits = mask.ndim <= shape.length;
  for (let i = 1; fits && i <= mask.ndim; i++) {
    const size = mask.shape[mask.ndim - i];
    fits = size === 1 || size === shape[shape.length - i];
  }
  if (!fits)
    throw new RangeError(
      `${op}: mask ${formatShape(mask.shape)} does not broadcast to the input's ${formatShape(shape)}`,
    );
}

/**
 * The values of x, read to size an output (maskedSelect, nonzero: a synchronization on a GPU, as in
 * PyTorch). Where results arrive later (GPU.js webgpu, webasm with threads) nothing can be read
 * synchronously, so the op is refused by name.
 */
function readValues(op: string, x: Tensor): TypedArray {
  if (!x.backend.readsSynchronously) {
    throw new Error(
      `${op}: its output size depends on the values, which this ${x.device} mode cannot read synchronously: ` +
        "read them with `await tensor.data()` and build the result on the CPU, or keep shapes with maskedFill or where",
    );
  }
  return x.contiguous().dataSync();
}

/** `out = value` where `mask` is true, else x (PyTorch's `masked_fill`); the mask broadcasts to x. No gradient where filled. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  assertMask("maskedFill", mask, x.shape);
  // A bool takes any number (nonzero, NaN included, is true); an int32 cannot hold NaN or ±∞.
  if (!Number.isFinite(value) && x.dtype === "int32") {
    throw new RangeError(`maskedFill: ${formatValue(value)} does not fit an int32 tensor`);
  }
  return P.where(mask, x.fullLike(value), x);
}

/**
 * The elements of x where `mask` is true, in row-major order, as a 1-D tensor (PyTorch's
 * `masked_select`); x and mask broadcast together. Its size depends on the mask's values, so the
 * mask is read (a synchronization on a GPU, as in PyTorch). Gradient: scattered back to the
 * selected positions.
 */
export function maskedSelect(x: Tensor, mask: Tensor): Tensor {
  const shape = broadcastShapes(x.shape, mask.shape);
  assertMask("maskedSelect", mask, shape);
  const flags = readValues("maskedSelect", mask.expand(shape));
  const positions: number[] = [];
  flags.forEach((flag, i) => {
    if (flag !== 0) positions.push(i);
  });
  const index = fromValues(Int32Array.from(positions), [positions.length], {
    dtype: "int32",
    device: x.device,
  });
  return x.expand(shape).reshape([-1]).indexSelect(0, index);
}

/** True where any element over `dim` (all when left out) is nonzero; an empty reduction gives false. */
export function any(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return x.ne(0).sum(normalizeAxes(dim, x.ndim), keepdim).gt(0);
}

/** True where every element over `dim` (all when left out) is nonzero; an empty reduction gives true. */
export function all(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return x.eq(0).sum(normalizeAxes(dim, x.ndim), keepdim).eq(0);
}

/** True where x is NaN (only NaN differs from itself). */
export function isnan(x: Tensor): Tensor {
  return x.ne(x);
}

/** True where x is +∞ or −∞. */
export function isinf(x: Tensor): Tensor {
  return x.abs().eq(Number.POSITIVE_INFINITY);
}

/** True where x is neither NaN nor ±∞ (x − x is 0 exactly there). */
export function isfinite(x: Tensor): Tensor {
  return x.sub(x).eq(0);
}

/**
 * The indices of the nonzero elements, int32 (n, ndim), row-major (PyTorch's `nonzero`, which
 * gives int64). Reads x, as `maskedSelect` reads its mask.
 */
export function nonzero(x: Tensor): Tensor {
  const values = readValues("nonzero", x);
  const rows: number[] = [];
  values.forEach((value, flat) => {
    if (value === 0) return;
    let rest = flat;
    const index = new Array<number>(x.ndim);
    for (let axis = x.ndim - 1; axis >= 0; axis--) {
      index[axis] = rest % x.shape[axis];
      rest = Math.floor(rest / x.shape[axis]);
    }
    rows.push(...index);
  });
  const count = x.ndim === 0 ? (values[0] === 0 ? 0 : 1) : rows.length / x.ndim;
  return fromValues(Int32Array.from(rows), [count, x.ndim], { dtype: "int32", device: x.device });
}

/** `logicalNot`, `logicalAnd`, `logicalOr`, `logicalXor`: nonzero is true; results are bool. */
export const logical = {
  not: (a: Tensor): Tensor => a.eq(0),
  and: (a: Tensor, b: Tensor): Tensor => a.ne(0).mul(b.ne(0)).ne(0),
  or: (a: Tensor, b: Tensor): Tensor => a.ne(0).add(b.ne(0)).ne(0),
  xor: (a: Tensor, b: Tensor): Tensor => a.ne(0).ne(b.ne(0)),
};
