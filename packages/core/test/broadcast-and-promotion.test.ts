// Broadcasting semantics, type promotion and the forward values of the elementwise ops on small cases.
import { describe, expect, it } from "vitest";
import {
  arange,
  broadcastShapes,
  type DType,
  promoteTypes,
  type Shape,
  type Tensor,
  tensor,
  where,
} from "../src/index.ts";

describe("broadcastShapes", () => {
  it.each<{ shapes: Shape[]; expected: Shape }>([
    { shapes: [[2, 3], [3]], expected: [2, 3] },
    {
      shapes: [
        [2, 1, 3],
        [4, 1],
      ],
      expected: [2, 4, 3],
    },
    { shapes: [[], [2, 2]], expected: [2, 2] },
    { shapes: [[5, 1], [1, 6], [6]], expected: [5, 6] },
    {
      shapes: [
        [0, 1],
        [1, 3],
      ],
      expected: [0, 3],
    },
    { shapes: [[1], [1]], expected: [1] },
  ])("$shapes → $expected", ({ shapes, expected }) => {
    expect(broadcastShapes(...shapes)).toEqual(expected);
  });
});

describe("broadcast values", () => {
  it("adds a row to every row and a column to every column", () => {
    const matrix = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(matrix.add(tensor([10, 20, 30])).tolist()).toEqual([
      [11, 22, 33],
      [14, 25, 36],
    ]);
    expect(matrix.sub(tensor([[1], [2]])).tolist()).toEqual([
      [0, 1, 2],
      [2, 3, 4],
    ]);
  });

  it("forms the outer product of a column and a row", () => {
    const outer = tensor([[1], [2]]).mul(tensor([3, 4, 5]));
    expect(outer.shape).toEqual([2, 3]);
    expect(outer.tolist()).toEqual([
      [3, 4, 5],
      [6, 8, 10],
    ]);
  });

  it("broadcasts a scalar tensor and a plain number", () => {
    const x = tensor([1, 2]);
    expect(x.mul(tensor(3)).tolist()).toEqual([3, 6]);
    expect(x.div(2).tolist()).toEqual([0.5, 1]);
    expect(tensor(2).pow(x).tolist()).toEqual([2, 4]);
  });

  it("broadcasts the three arguments of where", () => {
    const out = where(tensor([[1], [0]], { dtype: "int32" }), tensor([1, 2, 3]), 0);
    expect(out.shape).toEqual([2, 3]);
    expect(out.tolist()).toEqual([
      [1, 2, 3],
      [0, 0, 0],
    ]);
  });

  it("where lifts plain numbers to scalars (float32 for a fraction beside int32)", () => {
    const mask = tensor(
      [
        [1, 0],
        [0, 1],
      ],
      { dtype: "int32" },
    );
    const ints = tensor(
      [
        [5, 6],
        [7, 8],
      ],
      { dtype: "int32" },
    );
    const numbers = where(mask, 1, 0);
    expect([numbers.dtype, numbers.tolist()]).toEqual([
      "float32",
      [
        [1, 0],
        [0, 1],
      ],
    ]);
    const fraction = where(mask, ints, 0.5);
    expect([fraction.dtype, fraction.tolist()]).toEqual([
      "float32",
      [
        [5, 0.5],
        [0.5, 8],
      ],
    ]);
    const integer = where(mask, 2, ints);
    expect([integer.dtype, integer.tolist()]).toEqual([
      "int32",
      [
        [2, 6],
        [7, 2],
      ],
    ]);
  });

  it("gives the gradient of a broadcast operand summed over the broadcast dims", () => {
    const a = tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { requiresGrad: true },
    );
    const b = tensor([[1], [2]], { requiresGrad: true });
    a.mul(b).sum().backward();
    expect(a.grad!.tolist()).toEqual([
      [1, 1, 1],
      [2, 2, 2],
    ]);
    expect(b.grad!.tolist()).toEqual([[6], [15]]);
  });
});

describe("elementwise forward values", () => {
  const a = tensor([-2, -0.5, 0, 1.5], { dtype: "float64" });
  const b = tensor([3, 2, -1, 1.5], { dtype: "float64" });
  it.each<{ name: string; out: () => Tensor; expected: number[] }>([
    { name: "add", out: () => a.add(b), expected: [1, 1.5, -1, 3] },
    { name: "sub", out: () => a.sub(b), expected: [-5, -2.5, 1, 0] },
    { name: "mul", out: () => a.mul(b), expected: [-6, -1, -0, 2.25] },
    { name: "div", out: () => a.div(b), expected: [-2 / 3, -0.25, -0, 1] },
    { name: "pow", out: () => a.pow(b), expected: [-8, 0.25, Infinity, 1.5 ** 1.5] },
    { name: "maximum", out: () => a.maximum(b), expected: [3, 2, 0, 1.5] },
    { name: "minimum", out: () => a.minimum(b), expected: [-2, -0.5, -1, 1.5] },
    { name: "neg", out: () => a.neg(), expected: [2, 0.5, -0, -1.5] },
    { name: "abs", out: () => a.abs(), expected: [2, 0.5, 0, 1.5] },
    { name: "sign", out: () => a.sign(), expected: [-1, -1, 0, 1] },
    { name: "relu", out: () => a.relu(), expected: [0, 0, 0, 1.5] },
    { name: "exp", out: () => a.exp(), expected: [Math.exp(-2), Math.exp(-0.5), 1, Math.exp(1.5)] },
    { name: "log", out: () => b.log(), expected: [Math.log(3), Math.log(2), Number.NaN, Math.log(1.5)] },
    { name: "sqrt", out: () => b.sqrt(), expected: [Math.sqrt(3), Math.SQRT2, Number.NaN, Math.sqrt(1.5)] },
    { name: "reciprocal", out: () => a.reciprocal(), expected: [-0.5, -2, Infinity, 1 / 1.5] },
    { name: "tanh", out: () => a.tanh(), expected: [Math.tanh(-2), Math.tanh(-0.5), 0, Math.tanh(1.5)] },
  ])("$name", ({ out, expected }) => {
    const values = out().tolist();
    expect(values).toEqual(expected);
  });

  it.each<{ name: string; out: () => Tensor; expected: number[] }>([
    { name: "eq", out: () => a.eq(b), expected: [0, 0, 0, 1] },
    { name: "ne", out: () => a.ne(b), expected: [1, 1, 1, 0] },
    { name: "lt", out: () => a.lt(b), expected: [1, 1, 0, 0] },
    { name: "le", out: () => a.le(b), expected: [1, 1, 0, 1] },
    { name: "gt", out: () => a.gt(b), expected: [0, 0, 1, 0] },
    { name: "ge", out: () => a.ge(b), expected: [0, 0, 1, 1] },
  ])("comparison $name gives a bool mask that does not require grad", ({ out, expected }) => {
    const mask = out();
    expect(mask.dtype).toBe("bool");
    expect(mask.tolist()).toEqual(expected);
    expect(mask.requiresGrad).toBe(false);
  });

  it("NaN propagates through maximum and minimum (as PyTorch)", () => {
    const withNaN = tensor([Number.NaN, 1]);
    expect(withNaN.maximum(tensor([0, Number.NaN])).tolist()).toEqual([Number.NaN, Number.NaN]);
    expect(withNaN.minimum(0).tolist()).toEqual([Number.NaN, 0]);
  });
});

describe("type promotion", () => {
  it.each<{ a: DType; b: DType; expected: DType }>([
    { a: "int32", b: "int32", expected: "int32" },
    { a: "int32", b: "float32", expected: "float32" },
    { a: "float32", b: "int32", expected: "float32" },
    { a: "float32", b: "float64", expected: "float64" },
    { a: "int32", b: "float64", expected: "float64" },
    { a: "float64", b: "float64", expected: "float64" },
  ])("$a with $b → $expected", ({ a, b, expected }) => {
    expect(promoteTypes(a, b)).toBe(expected);
    const x = tensor([1, 2], { dtype: a });
    const y = tensor([3, 4], { dtype: b });
    expect(x.add(y).dtype).toBe(expected);
    expect(x.mul(y).dtype).toBe(expected);
    expect(x.maximum(y).dtype).toBe(expected);
    expect(where(tensor([1, 0], { dtype: "int32" }), x, y).dtype).toBe(expected);
  });

  it("int32 + float32 → float32 with the exact values", () => {
    const sum = tensor([1, 2], { dtype: "int32" }).add(tensor([0.5, 0.25]));
    expect(sum.dtype).toBe("float32");
    expect(sum.tolist()).toEqual([1.5, 2.25]);
  });

  it("float32 · float64 → float64, computed in float64", () => {
    const product = tensor([0.1]).mul(tensor([3], { dtype: "float64" }));
    expect(product.dtype).toBe("float64");
    expect(product.item()).toBe(Math.fround(0.1) * 3);
  });

  it("int32 / int32 is true division in float32", () => {
    const quotient = tensor([7, -7, 1], { dtype: "int32" }).div(tensor([2, 2, 3], { dtype: "int32" }));
    expect(quotient.dtype).toBe("float32");
    expect(quotient.tolist()).toEqual([3.5, -3.5, Math.fround(1 / 3)]);
  });

  it("int32 with a fractional number gives float32; with an integer stays int32", () => {
    const ints = arange(3);
    expect(ints.dtype).toBe("int32");
    expect(ints.mul(0.5).dtype).toBe("float32");
    expect(ints.mul(0.5).tolist()).toEqual([0, 0.5, 1]);
    expect(ints.add(2).dtype).toBe("int32");
  });

  it("float ops on int32 compute in float32; comparisons give bool masks from any dtypes", () => {
    expect(arange(3).exp().dtype).toBe("float32");
    expect(arange(3).sqrt().tolist()).toEqual([0, 1, Math.fround(Math.SQRT2)]);
    expect(arange(3).abs().dtype).toBe("int32");
    expect(tensor([1.5], { dtype: "float64" }).gt(tensor([1], { dtype: "int32" })).dtype).toBe("bool");
  });

  it("float32 results are rounded to float32", () => {
    expect(tensor([1]).div(3).item()).toBe(Math.fround(1 / 3));
    expect(tensor([1], { dtype: "float64" }).div(3).item()).toBe(1 / 3);
  });
});
