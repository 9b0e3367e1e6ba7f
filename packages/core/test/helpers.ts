// Core's test helpers: the view makers and a gradcheck that checks every input (the fake second device is in @normgrad/testing).
import { expect } from "vitest";
import { type GradcheckOptions, gradcheck, type Shape, type Tensor } from "../src/index.ts";

/** How an input reaches the op under test: as it is, or through a non-contiguous or broadcast view. */
export interface ViewMaker {
  name: string;
  /** The shape of the leaf to create so that `apply` gives a view of `shape`. */
  leafShape: (shape: Shape) => Shape;
  apply: (leaf: Tensor, shape: Shape) => Tensor;
}

/**
 * The identity plus the three kinds of view: transposed (the last two dims; a 0-D or 1-D input
 * stays as it is), sliced (an offset and gaps on every dim), expanded (stride 0 along dim 0).
 */
export const VIEW_MAKERS: readonly ViewMaker[] = [
  { name: "contiguous", leafShape: (shape) => shape, apply: (leaf) => leaf },
  {
    name: "transposed",
    leafShape: (shape) => (shape.length < 2 ? shape : [...shape.slice(0, -2), shape.at(-1)!, shape.at(-2)!]),
    apply: (leaf) => (leaf.ndim < 2 ? leaf : leaf.mT),
  },
  {
    name: "sliced",
    leafShape: (shape) => shape.map((dim) => dim + 2),
    apply: (leaf, shape) => shape.reduce((view, dim, axis) => view.narrow(axis, 1, dim), leaf),
  },
  {
    name: "expanded",
    leafShape: (shape) => (shape.length === 0 ? shape : [1, ...shape.slice(1)]),
    apply: (leaf, shape) => leaf.expand(shape),
  },
];

/**
 * Runs float64 `gradcheck` (which throws naming the worst element on a mismatch) and asserts
 * that it checked every input that requires grad.
 */
export function checkGradients(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options?: GradcheckOptions,
): void {
  const reports = gradcheck(fn, inputs, options);
  const expected = inputs.flatMap((input, i) => (input.requiresGrad ? [i] : []));
  expect(reports.map((report) => report.input)).toEqual(expected);
}
