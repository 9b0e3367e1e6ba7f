// Strided iteration for CPU kernels: walk every row of a shape, tracking one base offset per operand.
import type { Shape } from "../shape.ts";

/**
 * Calls `row(bases)` once per innermost row of `shape` (one call for a scalar), where
 * `bases[k]` is operand k's offset of the row's first element. The row length and the
 * operands' inner strides are the caller's: `shape.at(-1)` and `strides[k].at(-1)`.
 * `bases` is reused between calls.
 */
export function forEachRow(
  shape: Shape,
  strides: readonly (readonly number[])[],
  offsets: readonly number[],
  row: (bases: number[]) => void,
): void {
  const outerRank = shape.length - 1;
  const bases = offsets.slice();
  if (outerRank <= 0) {
    row(bases);
    return;
  }
  for (const dim of shape) if (dim === 0) return;
  const counter = new Array<number>(outerRank).fill(0);
  for (;;) {
    row(bases);
    let axis = outerRank - 1;
    for (; axis >= 0; axis--) {
      counter[axis]++;
      for (let k = 0; k < bases.length; k++) bases[k] += strides[k][axis];
      if (counter[axis] < shape[axis]) break;
      for (let k = 0; k < bases.length; k++) bases[k] -= strides[k][axis] * shape[axis];
      counter[axis] = 0;
    }
    if (axis < 0) return;
  }
}

/** The inner row length and inner stride of a view (1 and 0 for a scalar). */
export function innerExtent(shape: Shape, strides: readonly number[]): [length: number, stride: number] {
  return shape.length === 0 ? [1, 0] : [shape[shape.length - 1], strides[strides.length - 1]];
}

/** True when a view is row-major contiguous (so it can be read as one flat run). */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    if (shape[axis] !== 1 && strides[axis] !== expected) return false;
    expected *= shape[axis];
  }
  return true;
}

/**
 * Merges adjacent dims that every operand walks as one (`strides[i] = strides[i+1]·shape[i+1]`
 * for all of them) and drops size-1 dims, keeping row-major order. Long inner rows matter: a
 * bias added to (N, C, H, W) then runs rows of H·W instead of W, with one row call per channel.
 */
export function coalesceDims(
  shape: Shape,
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const merged: number[] = [];
  const mergedStrides: number[][] = strides.map(() => []);
  for (let axis = 0; axis < shape.length; axis++) {
    const size = shape[axis];
    if (size === 1) continue;
    const last = merged.length - 1;
    const joins = last >= 0 && strides.every((operand, k) => mergedStrides[k][last] === operand[axis] * size);
    if (joins) {
      merged[last] *= size;
      strides.forEach((operand, k) => {
        mergedStrides[k][last] = operand[axis];
      });
    } else {
      merged.push(size);
      strides.forEach((operand, k) => {
        mergedStrides[k].push(operand[axis]);
      });
    }
  }
  return { shape: merged, strides: mergedStrides };
}
