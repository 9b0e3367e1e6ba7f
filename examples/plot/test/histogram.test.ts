// histogram: bins over the data's range, out-of-range values clamped into the end bins.
import { describe, expect, it } from "vitest";
import { histogram, markdownTable } from "../src/index.ts";

describe("histogram", () => {
  it("bins over the data's range with the maximum in the last bin", () => {
    expect(histogram([0, 1, 2, 3, 4], { bins: 2 })).toEqual([
      { start: 0, end: 2, count: 2, fraction: 0.4 },
      { start: 2, end: 4, count: 3, fraction: 0.6 },
    ]);
  });

  it("clamps values outside the range into the end bins", () => {
    const bins = histogram([-5, 0.1, 0.9, 7], { bins: 2, range: [0, 1] });
    expect(bins.map((bin) => bin.count)).toEqual([2, 2]);
    expect(bins.reduce((sum, bin) => sum + bin.fraction, 0)).toBe(1);
  });

  it("gives a constant input a bin of width 1", () => {
    expect(histogram([3, 3], { bins: 1 })).toEqual([{ start: 3, end: 4, count: 2, fraction: 1 }]);
  });

  it.each([
    [[1, 2], { bins: 0 }, "histogram: bins must be a positive integer, got 0"],
    [[], {}, "histogram: no values to bin"],
    [[1, Number.NaN], { range: [0, 1] as const }, "histogram: value 1 is NaN"],
    [[1], { range: [2, 1] as const }, "histogram: the range must be finite with min <= max, got [2, 1]"],
  ])("rejects %j with %j", (values, options, message) => {
    expect(() => histogram(values, options)).toThrow(message);
  });
});

describe("markdownTable", () => {
  it("right-aligns numeric columns and escapes pipes", () => {
    expect(
      markdownTable(
        ["name", "error"],
        [
          ["a|b", "1.5e-7"],
          ["c", "-3"],
        ],
      ),
    ).toBe("| name | error |\n| --- | ---: |\n| a\\|b | 1.5e-7 |\n| c | -3 |");
  });

  it("rejects a row of the wrong length", () => {
    expect(() => markdownTable(["a", "b"], [["1"]])).toThrow(
      "markdownTable: row 0 has 1 cells, the header has 2",
    );
  });
});
