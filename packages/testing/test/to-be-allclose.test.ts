// toBeAllclose: PyTorch's allclose semantics, the shape and length checks, and failure messages naming the worst element.
import { describe, expect, it } from "vitest";
import { tensor } from "../../core/src/index.ts";
import { type FixtureTensor, toBeAllclose } from "../src/index.ts";

const TIGHT = { rtol: 1e-3, atol: 1e-6 };

describe("toBeAllclose", () => {
  it("accepts |a − b| ≤ atol + rtol·|b| and refuses anything beyond, with b the expected value", () => {
    // Asymmetric like torch.allclose: the tolerance scales with the expected value only.
    expect([1.001]).toBeAllclose([1], { rtol: 1e-3, atol: 0 });
    expect([1]).not.toBeAllclose([1.001], { rtol: 0, atol: 1e-4 });
    expect([0, 1e-7]).toBeAllclose([1e-6, 0], { rtol: 0, atol: 1e-6 });
    expect(toBeAllclose([1.0011], [1], { rtol: 1e-3, atol: 0 }).pass).toBe(false);
  });

  it("reads tensors and fixture tensors, and compares their shapes", () => {
    const fixture: FixtureTensor = { shape: [2, 2], dtype: "float64", data: [1, 2, 3, 4] };
    expect(
      tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { dtype: "float64" },
      ),
    ).toBeAllclose(fixture, TIGHT);
    expect(tensor([1, 2, 3, 4], { dtype: "float64" })).toBeAllclose([1, 2, 3, 4], TIGHT);
    expect(toBeAllclose(tensor([1, 2, 3, 4]), fixture, TIGHT).message()).toBe(
      "shape [4] differs from the expected [2, 2]",
    );
    expect(toBeAllclose([1, 2, 3], [1, 2], TIGHT).message()).toBe("3 elements, expected 2");
  });

  it("names the worst element (with its multi-index), both values and the tolerances", () => {
    const fixture: FixtureTensor = { shape: [2, 3], dtype: "float64", data: [0, 1, 2, 3, 4, 5] };
    const result = toBeAllclose(tensor([0, 1.5, 2, 3, 4, 7], { shape: [2, 3] }), fixture, TIGHT);
    expect(result.pass).toBe(false);
    expect(result.message()).toBe(
      "2 of 6 elements not within rtol 0.001, atol 0.000001; the worst, element 5 ([1, 2]), is 7, " +
        "expected 5 (|difference| 2, allowed 0.005001)",
    );
  });

  it("follows torch.allclose on special values: equal infinities are close, NaN only with equalNan", () => {
    expect([Number.POSITIVE_INFINITY, -1]).toBeAllclose([Number.POSITIVE_INFINITY, -1], TIGHT);
    expect([Number.POSITIVE_INFINITY]).not.toBeAllclose([Number.NEGATIVE_INFINITY], TIGHT);
    expect([Number.POSITIVE_INFINITY]).not.toBeAllclose([1e308], TIGHT);
    expect([Number.NaN]).not.toBeAllclose([Number.NaN], TIGHT);
    expect([Number.NaN, 1]).toBeAllclose([Number.NaN, 1], { ...TIGHT, equalNan: true });
    expect(toBeAllclose([1, Number.NaN], [1, 2], TIGHT).message()).toMatch(
      /^1 of 2 elements not within rtol 0.001, atol 0.000001; the worst, element 1, is NaN, expected 2/,
    );
  });

  it("prefixes the failure with expect's message and refuses what is not numbers", () => {
    expect(() => expect([1, 2], "grad x").toBeAllclose([1, 3], TIGHT)).toThrow(
      /^grad x: 1 of 2 elements not within rtol 0.001, atol 0.000001; the worst, element 1, is 2, expected 3/,
    );
    expect(() => expect(null, "grad weight").toBeAllclose([1], TIGHT)).toThrow(
      "grad weight: toBeAllclose compares tensors or arrays of numbers, but received null",
    );
    expect(toBeAllclose({ shape: [1] }, [1], TIGHT).message()).toBe(
      "toBeAllclose compares tensors or arrays of numbers, but received an object (Object)",
    );
  });

  it("says, under .not, that every element was close", () => {
    expect(() => expect([1, 2]).not.toBeAllclose([1, 2.0001], TIGHT)).toThrow(
      "expected not all of 2 elements within rtol 0.001, atol 0.000001; the closest call is element 1",
    );
  });
});
