// Printing: PyTorch's value layout (aligned, 4 decimals or scientific, summarised past 1000 values) plus shape and dtype.
import { registerFakeGpu } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { arange, type Tensor, tensor, zeros } from "../src/index.ts";

registerFakeGpu();

describe("toString", () => {
  it.each<{ name: string; make: () => Tensor; expected: string }>([
    { name: "a float scalar", make: () => tensor(3), expected: "tensor(3., shape=[], dtype=float32)" },
    {
      name: "an int scalar",
      make: () => tensor(-7, { dtype: "int32" }),
      expected: "tensor(-7, shape=[], dtype=int32)",
    },
    {
      name: "whole floats",
      make: () =>
        tensor([
          [1, 2],
          [3, 40],
        ]),
      expected: "tensor([[ 1.,  2.],\n        [ 3., 40.]], shape=[2, 2], dtype=float32)",
    },
    {
      name: "fractions with 4 decimals",
      make: () =>
        tensor(
          [
            [1.5, -2],
            [1.23456, 4],
          ],
          { dtype: "float64" },
        ),
      expected: "tensor([[ 1.5000, -2.0000],\n        [ 1.2346,  4.0000]], shape=[2, 2], dtype=float64)",
    },
    {
      name: "int32, right-aligned",
      make: () => tensor([5, -12, 300], { dtype: "int32" }),
      expected: "tensor([  5, -12, 300], shape=[3], dtype=int32)",
    },
    {
      name: "a small magnitude in scientific notation",
      make: () => tensor([1e-5, 1, 1000]),
      expected: "tensor([1.0000e-05, 1.0000e+00, 1.0000e+03], shape=[3], dtype=float32)",
    },
    {
      name: "magnitudes spanning more than 10³ in scientific notation (as PyTorch)",
      make: () => tensor([1, 2000], { dtype: "float64" }),
      expected: "tensor([1.0000e+00, 2.0000e+03], shape=[2], dtype=float64)",
    },
    {
      name: "magnitudes spanning 10³ in fixed notation",
      make: () => tensor([0.5, 500], { dtype: "float64" }),
      expected: "tensor([  0.5000, 500.0000], shape=[2], dtype=float64)",
    },
    {
      name: "nan and inf",
      make: () => tensor([1, Number.NaN, Number.NEGATIVE_INFINITY]),
      expected: "tensor([  1.,  nan, -inf], shape=[3], dtype=float32)",
    },
    {
      name: "a 3-D tensor, blocks separated by a blank line",
      make: () => arange(8).reshape([2, 2, 2]),
      expected:
        "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]], shape=[2, 2, 2], dtype=int32)",
    },
    {
      name: "an empty tensor",
      make: () => zeros([0, 2]),
      expected: "tensor([], shape=[0, 2], dtype=float32)",
    },
    {
      name: "an empty tensor with leading dims",
      make: () => zeros([2, 0, 3]),
      expected: "tensor([], shape=[2, 0, 3], dtype=float32)",
    },
    {
      name: "a long vector wrapped at 80 columns (as PyTorch)",
      make: () => arange(30),
      expected:
        "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n" +
        "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29], shape=[30], dtype=int32)",
    },
    {
      name: "a leaf that requires grad",
      make: () => tensor([1, 2], { requiresGrad: true }),
      expected: "tensor([1., 2.], shape=[2], dtype=float32, requiresGrad=true)",
    },
    {
      name: "the output of an op",
      make: () => tensor([1, 2], { requiresGrad: true }).mul(2),
      expected: "tensor([2., 4.], shape=[2], dtype=float32, gradFn=mul)",
    },
    {
      name: "a tensor on another device",
      make: () => tensor([1, 2], { device: "gpu" }),
      expected: "tensor([1., 2.], shape=[2], dtype=float32, device=gpu)",
    },
    {
      name: "a non-contiguous view, in its logical order",
      make: () => arange(6).reshape([2, 3]).mT,
      expected: "tensor([[0, 3],\n        [1, 4],\n        [2, 5]], shape=[3, 2], dtype=int32)",
    },
  ])("prints $name", ({ make, expected }) => {
    expect(make().toString()).toBe(expected);
  });

  it("summarises more than 1000 values with the first and last three of each dim (as PyTorch)", () => {
    expect(arange(1001).toString()).toBe(
      "tensor([   0,    1,    2,  ...,  998,  999, 1000], shape=[1001], dtype=int32)",
    );
    expect(arange(0, 2000).reshape([40, 50]).toString()).toBe(
      [
        "tensor([[   0,    1,    2,  ...,   47,   48,   49],",
        "        [  50,   51,   52,  ...,   97,   98,   99],",
        "        [ 100,  101,  102,  ...,  147,  148,  149],",
        "        ...,",
        "        [1850, 1851, 1852,  ..., 1897, 1898, 1899],",
        "        [1900, 1901, 1902,  ..., 1947, 1948, 1949],",
        "        [1950, 1951, 1952,  ..., 1997, 1998, 1999]], shape=[40, 50], dtype=int32)",
      ].join("\n"),
    );
  });

  it("prints exactly 1000 values without summarising", () => {
    expect(zeros([1000]).toString()).not.toContain("...");
  });

  it("prints a million values (summarised) without overflowing the stack, formatting only those shown", () => {
    // Only the shown values choose the format: the 1e-9 in the middle does not force scientific notation.
    const values = new Float32Array(1_000_000);
    values[500_500] = 1e-9;
    const printed = tensor(values, { shape: [1000, 1000] }).toString();
    expect(printed.startsWith("tensor([[0., 0., 0.,  ..., 0., 0., 0.],")).toBe(true);
    expect(printed.endsWith("shape=[1000, 1000], dtype=float32)")).toBe(true);
  });
});
