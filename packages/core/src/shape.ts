// Shapes and strides: sizes, broadcasting and axis normalization, with errors that name the shapes.

/** A tensor's shape: one size per dimension, outermost first. `[]` is a scalar. */
export type Shape = readonly number[];

/** Lists longer than this are cut in messages, so that absurd inputs still give short errors. */
const LIST_LIMIT = 12;

/**
 * Joins `items` with `separator` (default ", ") for a message; beyond 12 items only the first 6
 * are shown, then the count: `1, 1, 1, 1, 1, 1, … (100000 dims)`, `noun` naming what is counted.
 */
export function formatList(items: readonly (number | string)[], noun: string, separator = ", "): string {
  if (items.length <= LIST_LIMIT) return items.join(separator);
  return `${items.slice(0, LIST_LIMIT / 2).join(separator)}${separator}… (${items.length} ${noun})`;
}

/** Formats a shape the way error messages print it: `[2, 3]` (long shapes cut, see `formatList`). */
export function formatShape(shape: Shape): string {
  return `[${formatList(shape, "dims")}]`;
}

/** The number of elements of a shape (1 for a scalar). */
export function shapeSize(shape: Shape): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

/** Row-major (C-contiguous) strides of a shape, in elements. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis];
  }
  return strides;
}

/** True when two shapes are equal dimension by dimension. */
export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((dim, axis) => dim === b[axis]);
}

/** Checks every dimension is a non-negative integer. */
export function assertValidShape(shape: Shape, what = "shape"): void {
  for (const dim of shape) {
    if (!Number.isInteger(dim) || dim < 0) {
      throw new RangeError(`${what} ${formatShape(shape)} is invalid: sizes must be non-negative integers`);
    }
  }
}

/**
 * The broadcast shape of several shapes (NumPy/PyTorch rules: align from the right; each pair
 * of sizes must be equal or one of them 1).
 */
export function broadcastShapes(...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((shape) => shape.length));
  const result = new Array<number>(rank).fill(1);
  for (const shape of shapes) {
    for (let i = 1; i <= shape.length; i++) {
      const dim = shape[shape.length - i];
      const current = result[rank - i];
      if (current === 1) result[rank - i] = dim;
      else if (dim !== 1 && dim !== current) {
        throw new RangeError(
          `shapes ${formatList(shapes.map(formatShape), "shapes", " and ")} cannot be broadcast together: ` +
            `size ${current} vs ${dim} at dimension ${rank - i} (counted in the broadcast shape)`,
        );
      }
    }
  }
  return result;
}

/** Resolves a possibly negative axis against `rank`, with a clear error when out of range. */
export function normalizeAxis(axis: number, rank: number, what = "dim"): number {
  const low = rank === 0 ? -1 : -rank;
  const high = rank === 0 ? 0 : rank - 1;
  if (!Number.isInteger(axis) || axis < low || axis > high) {
    throw new RangeError(
      `${what} ${axis} is out of range for a tensor of rank ${rank} (expected ${low}..${high})`,
    );
  }
  return axis < 0 ? axis + Math.max(rank, 1) : axis;
}

/** Resolves an axis list (or all axes when undefined), sorted and without duplicates. */
export function normalizeAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, axis) => axis);
  const list = typeof axes === "number" ? [axes] : axes;
  const resolved = list.map((axis) => normalizeAxis(axis, rank));
  if (new Set(resolved).size !== resolved.length) {
    throw new RangeError(`dims [${formatList(list, "dims")}] name the same dimension twice`);
  }
  // A scalar's dim 0 (or −1) names no real axis: reducing over it leaves the value as is (as PyTorch).
  if (rank === 0) return [];
  return resolved.sort((a, b) => a - b);
}
