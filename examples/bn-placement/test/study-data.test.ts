// Stratified subsets: exact size, class proportions kept, dataset order, no random draw.
import { describe, expect, it } from "vitest";
import { stratifiedSubset } from "../src/study-data.ts";

/** 10 classes sorted by class (like the `mnist` package's digits), class c holding 10 + c samples. */
const sortedLabels = Array.from({ length: 10 }, (_, c) => Array<number>(10 + c).fill(c)).flat();

describe("stratifiedSubset", () => {
  it.each([1, 7, 50, 100, 144])("returns exactly %i indices, ascending", (size) => {
    const indices = stratifiedSubset(sortedLabels, size);
    expect(indices).toHaveLength(size);
    expect(indices).toEqual([...indices].sort((a, b) => a - b));
  });

  it("keeps the class proportions and takes each class's first samples", () => {
    const indices = stratifiedSubset(sortedLabels, 29);
    const perClass = Array.from(
      { length: 10 },
      (_, c) => indices.filter((i) => sortedLabels[i] === c).length,
    );
    // 29 of 145 is a fifth: class c gets (10 + c)/5 samples, the largest remainders rounding up.
    expect(perClass).toEqual([2, 2, 2, 3, 3, 3, 3, 3, 4, 4]);
    expect(indices.slice(0, 2)).toEqual([0, 1]);
  });

  it("keeps everything when the size reaches the length", () => {
    expect(stratifiedSubset([3, 1, 2], 5)).toEqual([0, 1, 2]);
  });

  it("rejects a size below 1", () => {
    expect(() => stratifiedSubset(sortedLabels, 0)).toThrow("size must be an integer ≥ 1, got 0");
  });
});
