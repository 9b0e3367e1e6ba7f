// coalesceDims: merging dims that every operand walks as one, without changing the visiting order.
import { describe, expect, it } from "vitest";
import { coalesceDims, forEachRow, innerExtent } from "../src/cpu/strided.ts";

/** Every offset each operand visits, in order, walking row by row. */
function visited(shape: readonly number[], strides: readonly (readonly number[])[]): number[][] {
  const offsets: number[][] = strides.map(() => []);
  const n = innerExtent(shape, strides[0])[0];
  forEachRow(
    shape,
    strides,
    strides.map(() => 0),
    (bases) => {
      bases.forEach((base, k) => {
        const step = innerExtent(shape, strides[k])[1];
        for (let j = 0; j < n; j++) offsets[k].push(base + j * step);
      });
    },
  );
  return offsets;
}

describe("coalesceDims", () => {
  it.each([
    ["contiguous", [2, 3, 4], [[12, 4, 1]], [24], [[1]]],
    [
      "a bias broadcast over H and W",
      [2, 3, 4, 5],
      [
        [60, 20, 5, 1],
        [0, 1, 0, 0],
      ],
      [2, 3, 20],
      [
        [60, 20, 1],
        [0, 1, 0],
      ],
    ],
    ["a transposed view (nothing merges)", [3, 2], [[1, 3]], [3, 2], [[1, 3]]],
    ["size-1 dims dropped", [1, 4, 1, 2], [[8, 2, 2, 1]], [8], [[1]]],
    ["a scalar", [], [[]], [], [[]]],
  ])("%s", (_, shape, strides, expectedShape, expectedStrides) => {
    const walk = coalesceDims(shape, strides);
    expect(walk.shape).toEqual(expectedShape);
    expect(walk.strides).toEqual(expectedStrides);
    expect(visited(walk.shape, walk.strides)).toEqual(visited(shape, strides));
  });
});
