// The CPU movement kernels: pad, cat, gather and scatterAdd, each one strided sweep into a fresh contiguous array.
import type { Padding, View } from "../backend.ts";
import type { DType, TypedArray } from "../dtype.ts";
import { contiguousStrides, type Shape, shapeSize } from "../shape.ts";
import { takeArray } from "./buffer-pool.ts";
import { cpuData } from "./cpu-buffer.ts";
import { forEachRow, innerExtent, isContiguous } from "./strided.ts";

/** Writes every element of `x` into `out` at `start + Σ index·outStrides`. */
function scatterView(x: View, out: TypedArray, start: number, outStrides: readonly number[]): void {
  const source = cpuData(x.buffer);
  const [n, s] = innerExtent(x.shape, x.strides);
  const so = innerExtent(x.shape, outStrides)[1];
  forEachRow(x.shape, [x.strides, outStrides], [x.offset, start], ([base, outBase]) => {
    for (let j = 0; j < n; j++) out[outBase + j * so] = source[base + j * s];
  });
}

/** `x` with `padding[axis] = [before, after]` elements of `value` around each axis. */
export function pad(x: View, padding: Padding, value: number): TypedArray {
  const outShape = x.shape.map((dim, axis) => dim + padding[axis][0] + padding[axis][1]);
  const out = takeArray(x.buffer.dtype, shapeSize(outShape));
  if (value !== 0) out.fill(value);
  const outStrides = contiguousStrides(outShape);
  const start = padding.reduce((sum, [before], axis) => sum + before * outStrides[axis], 0);
  scatterView(x, out, start, outStrides.slice(0, x.shape.length));
  return out;
}

/** The views `xs` (equal shapes but along `axis`) joined along `axis`. */
export function cat(xs: readonly View[], axis: number, dtype: DType): TypedArray {
  const outShape = xs[0].shape.slice();
  outShape[axis] = xs.reduce((sum, x) => sum + x.shape[axis], 0);
  const out = takeArray(dtype, shapeSize(outShape));
  const outStrides = contiguousStrides(outShape);
  let start = 0;
  for (const x of xs) {
    scatterView(x, out, start * outStrides[axis], outStrides);
    start += x.shape[axis];
  }
  return out;
}

/**
 * indexSelect along the first axis (a DataLoader's batch): the index varies only along axis 0 and
 * x's rows are contiguous, so each selected row is one copy instead of a loop over its elements.
 */
function gatherRows(source: TypedArray, x: View, index: View, indices: TypedArray, out: TypedArray): boolean {
  const rowShape = x.shape.slice(1);
  // A dim of size 1 may keep any stride.
  const varies = index.strides.some((stride, d) => d > 0 && stride !== 0 && index.shape[d] !== 1);
  if (varies || !isContiguous(rowShape, x.strides.slice(1))) {
    return false;
  }
  const row = shapeSize(rowShape);
  for (let i = 0; i < index.shape[0]; i++) {
    const start = x.offset + indices[index.offset + i * index.strides[0]] * x.strides[0];
    out.set(source.subarray(start, start + row), i * row);
  }
  return true;
}

/** `out[…, i, …] = x[…, index[…, i, …], …]` along `axis`, in the shape of `index`. */
export function gather(x: View, axis: number, index: View): TypedArray {
  const source = cpuData(x.buffer);
  const indices = cpuData(index.buffer);
  const out = takeArray(x.buffer.dtype, shapeSize(index.shape));
  if (axis === 0 && gatherRows(source, x, index, indices, out)) return out;
  // Walk the index; x is addressed with the same coordinates except along `axis`.
  const xStrides = x.strides.map((stride, d) => (d === axis ? 0 : stride));
  const [n, si] = innerExtent(index.shape, index.strides);
  const sx = innerExtent(index.shape, xStrides)[1];
  const axisStride = x.strides[axis];
  let o = 0;
  forEachRow(index.shape, [index.strides, xStrides], [index.offset, x.offset], ([ib, xb]) => {
    for (let j = 0; j < n; j++) {
      const position = indices[ib + j * si];
      out[o++] = source[xb + j * sx + position * axisStride];
    }
  });
  return out;
}

/** A zero array of `shape` with `out[…, index[…, i, …], …] += source[…, i, …]` along `axis` (gather's adjoint). */
export function scatterAdd(source: View, axis: number, index: View, shape: Shape): TypedArray {
  const values = cpuData(source.buffer);
  const indices = cpuData(index.buffer);
  const out = takeArray(source.buffer.dtype, shapeSize(shape));
  const outStrides = contiguousStrides(shape);
  const walkStrides = outStrides.map((stride, d) => (d === axis ? 0 : stride));
  const [n, si] = innerExtent(index.shape, index.strides);
  const ss = innerExtent(source.shape, source.strides)[1];
  const so = innerExtent(index.shape, walkStrides)[1];
  forEachRow(
    index.shape,
    [index.strides, source.strides, walkStrides],
    [index.offset, source.offset, 0],
    ([ib, sb, ob]) => {
      for (let j = 0; j < n; j++) {
        const position = indices[ib + j * si];
        out[ob + j * so + position * outStrides[axis]] += values[sb + j * ss];
      }
    },
  );
  return out;
}
