// Creating tensors: nested and typed arrays, scalars, constants, ranges, identity, *Like, dtypes.
import { describe, expect, it } from "vitest";
import {
  arange,
  type DType,
  eye,
  fromValues,
  full,
  fullLike,
  isFloating,
  linspace,
  type NestedArray,
  ones,
  onesLike,
  type Tensor,
  tensor,
  zeros,
  zerosLike,
} from "../src/index.ts";
import "@normgrad/testing";

/** Shape, dtype and nested values in one comparable value. */
const summary = (t: Tensor) => ({ shape: t.shape, dtype: t.dtype, values: t.tolist() });

describe("tensor()", () => {
  it.each<{ name: string; data: NestedArray; shape: number[] }>([
    { name: "a scalar", data: 3, shape: [] },
    { name: "a vector", data: [1, 2, 3], shape: [3] },
    {
      name: "a matrix",
      data: [
        [1, 2, 3],
        [4, 5, 6],
      ],
      shape: [2, 3],
    },
    {
      name: "a 3-D array",
      data: [
        [[1], [2]],
        [[3], [4]],
      ],
      shape: [2, 2, 1],
    },
    { name: "an empty vector", data: [], shape: [0] },
    { name: "an empty matrix", data: [[], []], shape: [2, 0] },
  ])("from $name infers the shape, float32 by default", ({ data, shape }) => {
    expect(summary(tensor(data))).toEqual({ shape, dtype: "float32", values: data });
  });

  it.each<DType>(["float32", "float64", "int32"])("takes dtype %s", (dtype) => {
    const t = tensor([[1, 2]], { dtype });
    expect(summary(t)).toEqual({ shape: [1, 2], dtype, values: [[1, 2]] });
    expect(isFloating(dtype)).toBe(dtype !== "int32");
  });

  it("rounds to float32 and truncates to int32, as the typed arrays store them", () => {
    expect(tensor([0.1]).item()).toBe(Math.fround(0.1));
    expect(tensor([0.1], { dtype: "float64" }).item()).toBe(0.1);
    expect(tensor([1.7, -1.7], { dtype: "int32" }).tolist()).toEqual([1, -1]);
  });

  it.each<{ name: string; data: Float32Array | Float64Array | Int32Array; dtype: DType }>([
    { name: "Float32Array", data: new Float32Array([1, 2, 3, 4, 5, 6]), dtype: "float32" },
    { name: "Float64Array", data: new Float64Array([1, 2, 3, 4, 5, 6]), dtype: "float64" },
    { name: "Int32Array", data: new Int32Array([1, 2, 3, 4, 5, 6]), dtype: "int32" },
  ])("from a $name takes its dtype and copies the values", ({ data, dtype }) => {
    expect(summary(tensor(data))).toEqual({ shape: [6], dtype, values: [1, 2, 3, 4, 5, 6] });
    const matrix = tensor(data, { shape: [2, 3] });
    data[0] = 100;
    expect(summary(matrix)).toEqual({
      shape: [2, 3],
      dtype,
      values: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    });
  });

  it("converts a typed array to the dtype asked for", () => {
    expect(summary(tensor(new Float64Array([1.5, 2]), { dtype: "int32" }))).toEqual({
      shape: [2],
      dtype: "int32",
      values: [1, 2],
    });
  });

  it("reshapes nested values to an explicit shape and sets requiresGrad", () => {
    const t = tensor([1, 2, 3, 4], { shape: [2, 2], requiresGrad: true });
    expect(summary(t).values).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(t.requiresGrad).toBe(true);
  });

  it.each<{ name: string; run: () => Tensor; message: string }>([
    {
      name: "a ragged row",
      run: () => tensor([[1, 2], [3]]),
      message: "tensor(): ragged nested array: expected 2 items at depth 1 (shape [2, 2])",
    },
    {
      name: "a number where a row belongs",
      run: () => tensor([[1, 2], 3]),
      message: "tensor(): ragged nested array: expected 2 items at depth 1 (shape [2, 2])",
    },
    {
      name: "a row where a number belongs",
      run: () => tensor([1, [2]]),
      message: "tensor(): ragged nested array (expected a number at depth 1)",
    },
    {
      name: "a shape that does not fit nested values",
      run: () => tensor([1, 2, 3, 4], { shape: [3] }),
      message: "tensor(): shape [3] needs 3 values, got 4",
    },
    {
      name: "a shape that does not fit a typed array",
      run: () => tensor(new Float32Array(5), { shape: [2, 2] }),
      message: "tensor(): shape [2, 2] needs 4 values, got 5",
    },
    // Missing elements used to read as whatever the typed array held past the end (−inf, NaN).
    {
      name: "fromValues with too few values",
      run: () => fromValues([1, 2, 3, 4, 5], [2, 3]),
      message: "fromValues: shape [2, 3] needs 6 values, got 5",
    },
    {
      name: "fromValues with too many values",
      run: () => fromValues(new Float64Array(3), [2], { dtype: "float64" }),
      message: "fromValues: shape [2] needs 2 values, got 3",
    },
    {
      name: "fromValues with an invalid shape",
      run: () => fromValues([], [2, -1]),
      message: "shape [2, -1] is invalid: sizes must be non-negative integers",
    },
    {
      name: "a negative size",
      run: () => zeros([2, -1]),
      message: "shape [2, -1] is invalid: sizes must be non-negative integers",
    },
    {
      name: "a fractional size",
      run: () => ones([1.5]),
      message: "shape [1.5] is invalid: sizes must be non-negative integers",
    },
    {
      name: "a device with no backend registered",
      run: () => tensor([1], { device: "gpu" }),
      message: 'device "gpu" has no backend: import and initialise @normgrad/gpu before using "gpu"',
    },
    {
      name: "requiresGrad on int32",
      run: () => tensor([1], { dtype: "int32", requiresGrad: true }),
      message: "only float tensors can require grad, this one is int32",
    },
  ])("refuses $name", ({ run, message }) => {
    expect(run).toThrow(message);
  });
});

describe("constants", () => {
  it.each<{ name: string; make: () => Tensor; expected: ReturnType<typeof summary> }>([
    {
      name: "zeros",
      make: () => zeros([2, 2]),
      expected: {
        shape: [2, 2],
        dtype: "float32",
        values: [
          [0, 0],
          [0, 0],
        ],
      },
    },
    {
      name: "ones int32",
      make: () => ones([3], { dtype: "int32" }),
      expected: { shape: [3], dtype: "int32", values: [1, 1, 1] },
    },
    {
      name: "full float64",
      make: () => full([1, 2], -2.5, { dtype: "float64" }),
      expected: { shape: [1, 2], dtype: "float64", values: [[-2.5, -2.5]] },
    },
    { name: "full scalar", make: () => full([], 7), expected: { shape: [], dtype: "float32", values: 7 } },
    {
      name: "zeros empty",
      make: () => zeros([0, 3]),
      expected: { shape: [0, 3], dtype: "float32", values: [] },
    },
    {
      name: "fromValues",
      make: () => fromValues([1, 2, 3, 4], [2, 2], { dtype: "int32" }),
      expected: {
        shape: [2, 2],
        dtype: "int32",
        values: [
          [1, 2],
          [3, 4],
        ],
      },
    },
  ])("$name", ({ make, expected }) => {
    expect(summary(make())).toEqual(expected);
  });

  it("*Like copy shape and dtype unless overridden", () => {
    const like = tensor([[1, 2, 3]], { dtype: "float64" });
    expect(summary(zerosLike(like))).toEqual({ shape: [1, 3], dtype: "float64", values: [[0, 0, 0]] });
    expect(summary(onesLike(like, { dtype: "int32" }))).toEqual({
      shape: [1, 3],
      dtype: "int32",
      values: [[1, 1, 1]],
    });
    expect(summary(fullLike(like, 4))).toEqual({ shape: [1, 3], dtype: "float64", values: [[4, 4, 4]] });
    expect(summary(like.zerosLike())).toEqual(summary(zerosLike(like)));
    expect(summary(like.onesLike())).toEqual({ shape: [1, 3], dtype: "float64", values: [[1, 1, 1]] });
    expect(summary(like.fullLike(2, "int32"))).toEqual({
      shape: [1, 3],
      dtype: "int32",
      values: [[2, 2, 2]],
    });
    expect(fullLike(like, 1, { requiresGrad: true }).requiresGrad).toBe(true);
    expect(zerosLike(tensor([1], { requiresGrad: true })).requiresGrad).toBe(false);
  });
});

describe("ranges and the identity", () => {
  it.each<{ name: string; make: () => Tensor; dtype: DType; values: number[] }>([
    { name: "arange(5)", make: () => arange(5), dtype: "int32", values: [0, 1, 2, 3, 4] },
    { name: "arange(2, 5)", make: () => arange(2, 5), dtype: "int32", values: [2, 3, 4] },
    { name: "arange(5, 0, -2)", make: () => arange(5, 0, -2), dtype: "int32", values: [5, 3, 1] },
    {
      name: "arange(0, 1, 0.25)",
      make: () => arange(0, 1, 0.25),
      dtype: "float32",
      values: [0, 0.25, 0.5, 0.75],
    },
    { name: "arange(0, 1.1, 0.5)", make: () => arange(0, 1.1, 0.5), dtype: "float32", values: [0, 0.5, 1] },
    { name: "arange(3, 1) (empty)", make: () => arange(3, 1), dtype: "int32", values: [] },
    {
      name: "arange(3) as float64",
      make: () => arange(0, 3, 1, { dtype: "float64" }),
      dtype: "float64",
      values: [0, 1, 2],
    },
    {
      name: "linspace(0, 1, 5)",
      make: () => linspace(0, 1, 5),
      dtype: "float32",
      values: [0, 0.25, 0.5, 0.75, 1],
    },
    { name: "linspace(2, -2, 3)", make: () => linspace(2, -2, 3), dtype: "float32", values: [2, 0, -2] },
    { name: "linspace(4, 9, 1)", make: () => linspace(4, 9, 1), dtype: "float32", values: [4] },
    { name: "linspace(0, 1, 0)", make: () => linspace(0, 1, 0), dtype: "float32", values: [] },
  ])("$name", ({ make, dtype, values }) => {
    const t = make();
    expect(summary(t)).toEqual({ shape: [values.length], dtype, values });
  });

  it("linspace starts exactly at start and ends exactly at end", () => {
    const values = linspace(0.1, 0.3, 7, { dtype: "float64" }).dataSync();
    expect([values[0], values[6]]).toEqual([0.1, 0.3]);
    expect(values).toBeAllclose(
      [0.1, 0.13333333333333333, 0.16666666666666666, 0.2, 0.23333333333333334, 0.26666666666666666, 0.3],
      {
        rtol: 1e-15,
        atol: 0,
      },
    );
  });

  it.each<{ name: string; run: () => Tensor; message: string }>([
    {
      name: "arange with step 0",
      run: () => arange(0, 3, 0),
      message: "arange: step must be finite and non-zero, got 0",
    },
    {
      name: "linspace with negative steps",
      run: () => linspace(0, 1, -1),
      message: "linspace: steps must be a non-negative integer, got -1",
    },
  ])("refuses $name", ({ run, message }) => {
    expect(run).toThrow(message);
  });

  it("eye builds square and rectangular identities", () => {
    expect(eye(3).tolist()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(summary(eye(2, 3, { dtype: "int32" }))).toEqual({
      shape: [2, 3],
      dtype: "int32",
      values: [
        [1, 0, 0],
        [0, 1, 0],
      ],
    });
  });
});
