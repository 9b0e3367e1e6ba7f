// Subset, ConcatDataset and randomSplit: indexing (negative and out of range), batches, and the split lengths against PyTorch 1.13.1's random_split (fixtures/random-split.json).
import { readFileSync } from "node:fs";
import { arange, Generator } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import { ConcatDataset, DataLoader, randomSplit, Subset, splitLengths, TensorDataset } from "../src/index.ts";

interface SplitCase {
  name: string;
  config: { n: number; lengths: number[] };
  expected: { lengths: number[] };
}

const splitCases: SplitCase[] = JSON.parse(
  readFileSync(new URL("./fixtures/random-split.json", import.meta.url), "utf8"),
).cases;

/** Sample i is [i, 10·i]. */
function numbers(n: number, from = 0): TensorDataset {
  const x = arange(from, from + n);
  return new TensorDataset(x, x.mul(10));
}

const first = (sample: { tolist(): unknown }[]) => sample[0].tolist();

describe("Subset", () => {
  const subset = new Subset(numbers(6), [4, 0, -1]);

  it("indexes the dataset through its indices, negative ones from the end (as a Python list)", () => {
    expect(subset.length).toBe(3);
    expect([0, 1, 2, -1, -3].map((i) => first(subset.get(i)))).toEqual([4, 0, 5, 5, 4]);
  });

  it("gathers batches through the dataset's getBatch", () => {
    const [x, y] = subset.getBatch([2, 0]);
    expect([x.tolist(), y.tolist()]).toEqual([
      [5, 4],
      [50, 40],
    ]);
  });

  it("refuses indices out of range, naming them", () => {
    expect(() => subset.get(3)).toThrow(/Subset: index 3 is out of range for a dataset of 3 samples/);
    expect(() => subset.get(-4)).toThrow(/index -4 is out of range/);
    expect(() => subset.get(0.5)).toThrow(/index 0.5 is out of range/);
    expect(() => new Subset(numbers(2), [2])).toThrow(
      /Subset: index 2 is out of range for a dataset of 2 samples/,
    );
  });
});

describe("ConcatDataset", () => {
  const concat = new ConcatDataset([numbers(2), numbers(3, 100), numbers(1, 200)]);

  it("runs the datasets one after the other", () => {
    expect(concat.length).toBe(6);
    expect(concat.cumulativeSizes).toEqual([2, 5, 6]);
    expect([0, 1, 2, 4, 5, -1, -6].map((i) => first(concat.get(i)))).toEqual([0, 1, 100, 102, 200, 200, 0]);
  });

  it("feeds a DataLoader across the boundaries", () => {
    const batches = [...new DataLoader(concat, { batchSize: 4 })].map(([x]) => x.tolist());
    expect(batches).toEqual([
      [0, 1, 100, 101],
      [102, 200],
    ]);
  });

  it("refuses indices out of range and an empty list", () => {
    expect(() => concat.get(6)).toThrow(/ConcatDataset: index 6 is out of range for a dataset of 6 samples/);
    expect(() => concat.get(-7)).toThrow(/index -7 is out of range/);
    expect(() => new ConcatDataset([])).toThrow(/needs at least one dataset/);
  });
});

describe.each(splitCases)("randomSplit lengths against PyTorch: $name", ({ config, expected }) => {
  it(`gives torch's lengths ${JSON.stringify(expected.lengths)}`, () => {
    expect(splitLengths(config.n, config.lengths)).toEqual(expected.lengths);
    const parts = randomSplit(numbers(config.n), config.lengths, { generator: new Generator(1) });
    expect(parts.map((part) => part.length)).toEqual(expected.lengths);
  });
});

describe("randomSplit", () => {
  const dataset = numbers(23);

  it("is disjoint, covers the dataset, and depends only on the generator's seed", () => {
    const split = (seed: number) =>
      randomSplit(dataset, [0.5, 0.3, 0.2], { generator: new Generator(seed) }).map((s) => [...s.indices]);
    const parts = split(7);
    expect(parts.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(split(7)).toEqual(parts);
    expect(split(8)).not.toEqual(parts);
    expect(parts.map((p) => p.length)).toEqual([12, 7, 4]);
  });

  it("refuses lengths that do not add up, negative fractions and fractional counts", () => {
    expect(() => randomSplit(dataset, [10, 12])).toThrow(/the lengths sum to 22, the dataset has 23 samples/);
    expect(() => randomSplit(dataset, [1.5, -0.5])).toThrow(
      /fraction at index 0 is not between 0 and 1, got 1.5/,
    );
    expect(() => randomSplit(dataset, [11.5, 11.5])).toThrow(
      /length at index 0 must be an integer >= 0, got 11.5/,
    );
    expect(() => randomSplit(dataset, [])).toThrow(/needs at least one length/);
  });
});
