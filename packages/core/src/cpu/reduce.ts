// The CPU reduction kernel: sum, max, min, argmax and argmin over any set of axes of a strided view.
import type { ReduceOp, View } from "../backend.ts";
import type { TypedArray } from "../dtype.ts";
import { shapeSize } from "../shape.ts";
import { takeArray } from "./buffer-pool.ts";
import { cpuData } from "./cpu-buffer.ts";
import { forEachRow, innerExtent } from "./strided.ts";

/** `op` over `axes` of `x`: one value per kept position (int32 positions along the reduced axes for argmax/argmin). */
export function reduce(op: ReduceOp, x: View, axes: readonly number[]): TypedArray {
  const source = cpuData(x.buffer);
  // Walk kept axes outside and reduced axes inside, so each output is one strided sweep.
  const kept = x.shape.map((_, axis) => axis).filter((axis) => !axes.includes(axis));
  const keptShape = kept.map((axis) => x.shape[axis]);
  const reducedShape = axes.map((axis) => x.shape[axis]);
  const reducedStrides = axes.map((axis) => x.strides[axis]);
  const outSize = shapeSize(keptShape);
  const isArg = op === "argmax" || op === "argmin";
  const out = takeArray(isArg ? "int32" : x.buffer.dtype, outSize);
  const [n, s] = innerExtent(reducedShape, reducedStrides);
  let o = 0;
  forEachRow([...keptShape, 1], [[...kept.map((axis) => x.strides[axis]), 0]], [x.offset], ([outerBase]) => {
    let accumulator = op === "sum" ? 0 : op === "max" || op === "argmax" ? -Infinity : Infinity;
    let best = 0;
    let position = 0;
    forEachRow(reducedShape, [reducedStrides], [outerBase], ([base]) => {
      switch (op) {
        case "sum":
          for (let j = 0; j < n; j++) accumulator += source[base + j * s];
          break;
        case "max":
          for (let j = 0; j < n; j++) {
            const value = source[base + j * s];
            if (value > accumulator || Number.isNaN(value)) accumulator = value;
          }
          break;
        case "min":
          for (let j = 0; j < n; j++) {
            const value = source[base + j * s];
            if (value < accumulator || Number.isNaN(value)) accumulator = value;
          }
          break;
        // The first extreme wins on ties, as in PyTorch.
        case "argmax":
        case "argmin":
          for (let j = 0; j < n; j++, position++) {
            const value = source[base + j * s];
            const better = op === "argmax" ? value > accumulator : value < accumulator;
            // NaN counts as the extreme, as in PyTorch.
            const nanWins = Number.isNaN(value) && !Number.isNaN(accumulator);
            if (position === 0 || better || nanWins) {
              accumulator = value;
              best = position;
            }
          }
          break;
        default:
          op satisfies never;
      }
    });
    out[o++] = isArg ? best : accumulator;
  });
  return out;
}
