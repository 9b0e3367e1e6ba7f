// The toBeAllclose matcher: PyTorch's allclose, |actual − expected| ≤ atol + rtol·|expected|, naming the worst element.
import { Tensor } from "../../core/src/index.ts";
import { type FixtureTensor, isFixtureTensor } from "./load-fixture.ts";

/** Elementwise tolerances: |actual − expected| ≤ atol + rtol·|expected| (PyTorch's allclose). */
export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
  /** NaN in both places counts as close (PyTorch's `equal_nan`). Default false. */
  readonly equalNan?: boolean;
}

/** A matcher's verdict, as vitest's `expect.extend` takes it. */
export interface AllcloseResult {
  pass: boolean;
  message: () => string;
}

/** What `toBeAllclose` compares: a tensor (read with `dataSync`), a fixture tensor or plain values. */
export type Allclosable = Tensor | FixtureTensor | ArrayLike<number>;

interface Values {
  readonly values: ArrayLike<number>;
  readonly shape: readonly number[] | null;
}

function isNumberArrayLike(value: object): value is ArrayLike<number> {
  return "length" in value && typeof value.length === "number";
}

/** The values (and shape, where there is one) of what was passed, or null for anything else. */
function valuesOf(value: unknown): Values | null {
  if (value instanceof Tensor) return { values: value.dataSync(), shape: value.shape };
  if (typeof value !== "object" || value === null) return null;
  if (isFixtureTensor(value)) return { values: value.data, shape: value.shape };
  if (isNumberArrayLike(value)) return { values: value, shape: null };
  return null;
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "no prototype"})`;
  return `${typeof value} ${String(value)}`;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** `flat` as a multi-index of `shape`, e.g. 5 in [2, 3] → "5 ([1, 2])"; just the flat index without a shape. */
function formatIndex(flat: number, shape: readonly number[] | null): string {
  if (shape === null || shape.length < 2) return String(flat);
  const index: number[] = [];
  let rest = flat;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index.unshift(rest % shape[axis]);
    rest = Math.floor(rest / shape[axis]);
  }
  return `${flat} (${formatShape(index)})`;
}

/** By how much element i misses its tolerance: ≤ 0 when close, +∞ when NaN is involved. */
function excess(actual: number, expected: number, { rtol, atol, equalNan = false }: Tolerance): number {
  if (actual === expected) return Number.NEGATIVE_INFINITY; // equal values, equal infinities included
  if (equalNan && Number.isNaN(actual) && Number.isNaN(expected)) return Number.NEGATIVE_INFINITY;
  const miss = Math.abs(actual - expected) - (atol + rtol * Math.abs(expected));
  return Number.isNaN(miss) ? Number.POSITIVE_INFINITY : miss;
}

/**
 * `expect(actual).toBeAllclose(expected, { rtol, atol })`: every element within
 * `atol + rtol·|expected|` (PyTorch's `allclose`; equal infinities are close, NaN only with
 * `equalNan`). Tensors are read with `dataSync`; where both sides have a shape (a tensor, a
 * fixture tensor) the shapes must be equal, otherwise the lengths. A failure names the worst
 * element, both values and the tolerances.
 */
export function toBeAllclose(received: unknown, expected: Allclosable, tolerance: Tolerance): AllcloseResult {
  const { rtol, atol } = tolerance;
  const tolerances = `rtol ${rtol}, atol ${atol}${tolerance.equalNan === true ? ", equalNan" : ""}`;
  const actual = valuesOf(received);
  const reference = valuesOf(expected);
  if (actual === null || reference === null) {
    const which = actual === null ? `received ${kindOf(received)}` : `expected ${kindOf(expected)}`;
    return { pass: false, message: () => `toBeAllclose compares tensors or arrays of numbers, but ${which}` };
  }
  if (actual.shape !== null && reference.shape !== null) {
    const [got, want] = [formatShape(actual.shape), formatShape(reference.shape)];
    if (got !== want) return { pass: false, message: () => `shape ${got} differs from the expected ${want}` };
  }
  if (actual.values.length !== reference.values.length) {
    const [got, want] = [actual.values.length, reference.values.length];
    return { pass: false, message: () => `${got} elements, expected ${want}` };
  }
  let worst = -1;
  let worstExcess = Number.NEGATIVE_INFINITY;
  let misses = 0;
  for (let i = 0; i < reference.values.length; i++) {
    const miss = excess(actual.values[i], reference.values[i], tolerance);
    if (miss > 0) misses++;
    if (miss > worstExcess) [worst, worstExcess] = [i, miss];
  }
  const count = reference.values.length;
  if (misses === 0) {
    const largest = worst < 0 ? "" : `; the closest call is element ${formatIndex(worst, reference.shape)}`;
    return {
      pass: true,
      message: () => `expected not all of ${count} elements within ${tolerances}${largest}`,
    };
  }
  const [got, want] = [actual.values[worst], reference.values[worst]];
  return {
    pass: false,
    message: () =>
      `${misses} of ${count} elements not within ${tolerances}; the worst, element ` +
      `${formatIndex(worst, reference.shape)}, is ${got}, expected ${want} ` +
      `(|difference| ${Math.abs(got - want)}, allowed ${atol + rtol * Math.abs(want)})`,
  };
}
