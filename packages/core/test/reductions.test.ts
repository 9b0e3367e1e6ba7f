// Reductions: sum/max/min values, argmax/argmin (first index wins ties), empty dims, NaN, var/mean guards.

import { fromFixture } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { type Tensor, tensor, zeros } from "../src/index.ts";
import { loadCoreFixtures } from "./local-fixtures.ts";

const x = () =>
  tensor([
    [3, 1, 3],
    [-2, 5, 5],
  ]);

describe("values", () => {
  it.each<{ name: string; out: () => Tensor; shape: number[]; values: unknown }>([
    { name: "sum over all", out: () => x().sum(), shape: [], values: 15 },
    { name: "sum(dim 0)", out: () => x().sum(0), shape: [3], values: [1, 6, 8] },
    { name: "sum(dim -1, keepdim)", out: () => x().sum(-1, true), shape: [2, 1], values: [[7], [8]] },
    { name: "sum over [0, 1] of a transposed view", out: () => x().mT.sum([0, 1]), shape: [], values: 15 },
    { name: "max over all", out: () => x().max(), shape: [], values: 5 },
    { name: "max(dim 1)", out: () => x().max(1), shape: [2], values: [3, 5] },
    { name: "max(dim 0, keepdim)", out: () => x().max(0, true), shape: [1, 3], values: [[3, 5, 5]] },
    { name: "min(dim 1)", out: () => x().min(1), shape: [2], values: [1, -2] },
    { name: "min(dim [0, 1], keepdim)", out: () => x().min([0, 1], true), shape: [1, 1], values: [[-2]] },
    { name: "argmax over all (flattened)", out: () => x().argmax(), shape: [], values: 4 },
    { name: "argmax(dim 1): the first of tied maxima", out: () => x().argmax(1), shape: [2], values: [0, 1] },
    { name: "argmax(dim 0, keepdim)", out: () => x().argmax(0, true), shape: [1, 3], values: [[0, 1, 1]] },
    { name: "argmin over all", out: () => x().argmin(), shape: [], values: 3 },
    {
      name: "argmin(dim -1)",
      out: () =>
        tensor([
          [2, 1, 1],
          [0, 0, 0],
        ]).argmin(-1),
      shape: [2],
      values: [1, 0],
    },
    { name: "argmax of a transposed view", out: () => x().mT.argmax(1), shape: [3], values: [0, 1, 1] },
    { name: "sum of int32 stays int32", out: () => x().to("int32").sum(1), shape: [2], values: [7, 8] },
    { name: "sum over an empty dim is 0", out: () => zeros([0, 2]).sum(0), shape: [2], values: [0, 0] },
    { name: "max over a kept empty dim is empty", out: () => zeros([0, 2]).max(1), shape: [0], values: [] },
  ])("$name", ({ out, shape, values }) => {
    const result = out();
    expect(result.shape).toEqual(shape);
    expect(result.tolist()).toEqual(values);
  });

  it("argmax and argmin are int32 and take no gradient", () => {
    const input = tensor([1, 2], { requiresGrad: true });
    const index = input.argmax();
    expect([index.dtype, index.requiresGrad]).toEqual(["int32", false]);
  });

  it("NaN wins max, min, argmax and argmin (as PyTorch)", () => {
    const withNaN = tensor([1, Number.NaN, 3]);
    expect([withNaN.max().item(), withNaN.min().item()]).toEqual([Number.NaN, Number.NaN]);
    expect([withNaN.argmax().item(), withNaN.argmin().item()]).toEqual([1, 1]);
  });

  it("max splits its gradient equally among tied maxima (as torch.amax)", () => {
    const input = tensor(
      [
        [1, 3, 3, 2],
        [4, 4, 4, 0],
      ],
      { dtype: "float64", requiresGrad: true },
    );
    input.max(1).sum().backward();
    expect(input.grad!.tolist()).toEqual([
      [0, 0.5, 0.5, 0],
      [1 / 3, 1 / 3, 1 / 3, 0],
    ]);
  });
});

// A second check of NaN and ties in max/min, against torch.amax/amin (whose gradient rule normgrad
// follows): NaN wins, ties split evenly, equal infinities tie, and a NaN slice's gradient is NaN.
describe.each(loadCoreFixtures("amax-nan-ties.json", "amax", "amin"))("$name against PyTorch", (fixture) => {
  it("gives torch's values and gradient (NaN where torch has NaN)", () => {
    const { op, config, inputs, expected } = fixture;
    const x = fromFixture(inputs.x, "float64", { requiresGrad: true });
    const dim = typeof config.dim === "number" ? config.dim : undefined;
    const keepdim = config.keepdim === true;
    const out = op === "amax" ? x.max(dim, keepdim) : x.min(dim, keepdim);
    expect(out.shape).toEqual(expected.output.shape);
    expect(out).toBeAllclose(expected.output, { rtol: 0, atol: 0, equalNan: true });
    out.backward(fromFixture(inputs.dy, "float64"));
    expect(x.grad).toBeAllclose(expected.grads.x, { rtol: 1e-15, atol: 0, equalNan: true });
  });
});

describe("a scalar's dim 0 (or -1), which reduces nothing (as PyTorch)", () => {
  const scalar = () => tensor(5, { dtype: "float64" });
  it.each<{ name: string; out: (x: Tensor) => Tensor; value: number }>([
    { name: "sum(0)", out: (x) => x.sum(0), value: 5 },
    { name: "sum(-1, keepdim)", out: (x) => x.sum(-1, true), value: 5 },
    { name: "max(0)", out: (x) => x.max(0), value: 5 },
    { name: "min(-1)", out: (x) => x.min(-1), value: 5 },
    { name: "mean(0)", out: (x) => x.mean(0), value: 5 },
    { name: "var(0, correction 0)", out: (x) => x.var(0, { correction: 0 }), value: 0 },
    { name: "logsumexp(0)", out: (x) => x.logsumexp(0), value: 5 },
    { name: "softmax(0)", out: (x) => x.softmax(0), value: 1 },
    { name: "logSoftmax(-1)", out: (x) => x.logSoftmax(-1), value: 0 },
    { name: "argmax(0)", out: (x) => x.argmax(0), value: 0 },
    { name: "argmin()", out: (x) => x.argmin(), value: 0 },
  ])("$name", ({ out, value }) => {
    const result = out(scalar());
    expect([result.shape, result.item()]).toEqual([[], value]);
  });

  it("passes the gradient through unchanged", () => {
    const x = tensor(5, { dtype: "float64", requiresGrad: true });
    x.sum(0).add(x.max(-1)).backward();
    expect(x.grad!.item()).toBe(2);
  });

  it("refuses dim 1", () => {
    expect(() => scalar().sum(1)).toThrow("dim 1 is out of range for a tensor of rank 0 (expected -1..0)");
  });
});

describe("errors", () => {
  it.each<{ name: string; run: () => Tensor; message: string }>([
    {
      name: "max over an empty dim",
      run: () => zeros([0, 3]).max(0),
      message: "max over dim 0 of size 0 (shape [0, 3]) has no identity",
    },
    {
      name: "min over all of an empty tensor",
      run: () => zeros([2, 0]).min(),
      message: "min over dim 1 of size 0 (shape [2, 0]) has no identity",
    },
    {
      name: "argmax over an empty dim",
      run: () => zeros([0]).argmax(0),
      message: "argmax over an empty dim 0 (shape [0])",
    },
    {
      name: "argmin of an empty tensor",
      run: () => zeros([3, 0]).argmin(),
      message: "argmin over an empty dim 0 (shape [0])",
    },
    {
      name: "var of one element",
      run: () => tensor([1]).var(),
      message:
        "var over 1 element(s) with correction 1 divides by 0: use correction 0 or reduce over more elements",
    },
    {
      name: "std over a size-1 dim",
      run: () => zeros([3, 1]).std(1),
      message:
        "var over 1 element(s) with correction 1 divides by 0: use correction 0 or reduce over more elements",
    },
    {
      name: "var with correction 0 of nothing",
      run: () => zeros([0]).var(0, { correction: 0 }),
      message: "var over 0 element(s) with correction 0 divides by 0",
    },
    {
      name: "mean of nothing",
      run: () => zeros([2, 0]).mean(1),
      message: "mean over an empty selection of shape [2, 0]",
    },
  ])("$name", ({ run, message }) => {
    expect(run).toThrow(message);
  });

  it("var of one element with correction 0 is 0", () => {
    expect(tensor([4]).var(undefined, { correction: 0 }).item()).toBe(0);
  });
});
