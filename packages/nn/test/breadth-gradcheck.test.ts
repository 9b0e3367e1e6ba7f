// Float64 gradcheck of the #20 activations and losses w.r.t. every input, and gradgradcheck of the smooth ones.
import { gradcheck, gradgradcheck, type Tensor, tensor } from "@normgrad/core";
import { seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { F } from "../src/index.ts";

interface Case {
  name: string;
  inputs: () => Tensor[];
  fn: (...inputs: Tensor[]) => Tensor;
  /** Smooth where the inputs lie, so the second derivative is checked too. */
  smooth: boolean;
}

/** Probabilities in [0.1, 0.9], away from BCE's clamp. */
const probabilities = (shape: number[], seed: number) =>
  seeded(shape, seed, { requiresGrad: false }).sigmoid().mul(0.8).add(0.1).detach().requiresGrad_();

const cases: Case[] = [
  { name: "silu", inputs: () => [seeded([3, 4], 201, { scale: 3 })], fn: (x) => F.silu(x), smooth: true },
  {
    name: "softplus, some of β·x above the threshold",
    inputs: () => [seeded([3, 4], 202, { scale: 4 })],
    fn: (x) => F.softplus(x, { beta: 2, threshold: 3 }),
    smooth: true,
  },
  {
    name: "softplus default",
    inputs: () => [seeded([3, 4], 203, { scale: 3 })],
    fn: (x) => F.softplus(x),
    smooth: true,
  },
  {
    name: "elu",
    inputs: () => [seeded([3, 4], 204, { domain: "nonzero" })],
    fn: (x) => F.elu(x),
    smooth: true,
  },
  {
    name: "elu alpha 0.3",
    inputs: () => [seeded([3, 4], 205, { scale: 2 })],
    fn: (x) => F.elu(x, 0.3),
    smooth: true,
  },
  { name: "mish", inputs: () => [seeded([3, 4], 206, { scale: 3 })], fn: (x) => F.mish(x), smooth: true },
  {
    name: "hardswish (pieces below −3, between, above 3)",
    inputs: () => [tensor([-5, -3.5, -2, -0.7, 0.4, 2.9, 3.2, 6], { dtype: "float64", requiresGrad: true })],
    fn: (x) => F.hardswish(x),
    smooth: true,
  },
  {
    name: "prelu, one slope",
    inputs: () => [
      seeded([2, 3, 4], 207, { domain: "nonzero" }),
      tensor([0.25], { dtype: "float64", requiresGrad: true }),
    ],
    fn: (x, weight) => F.prelu(x, weight),
    smooth: false,
  },
  {
    name: "prelu, per channel",
    inputs: () => [seeded([2, 3, 2, 2], 208, { domain: "nonzero" }), seeded([3], 209)],
    fn: (x, weight) => F.prelu(x, weight),
    smooth: false,
  },
  {
    name: "l1Loss",
    inputs: () => [seeded([3, 4], 210), seeded([3, 4], 211)],
    fn: (input, target) => F.l1Loss(input, target),
    smooth: false,
  },
  {
    name: "smoothL1Loss β 0.7, sum",
    inputs: () => [seeded([3, 4], 212), seeded([3, 4], 213)],
    fn: (input, target) => F.smoothL1Loss(input, target, { beta: 0.7, reduction: "sum" }),
    smooth: false,
  },
  {
    name: "huberLoss δ 0.5, none",
    inputs: () => [seeded([3, 4], 214), seeded([3, 4], 215)],
    fn: (input, target) => F.huberLoss(input, target, { delta: 0.5, reduction: "none" }),
    smooth: false,
  },
  {
    name: "klDiv batchmean",
    inputs: () => [seeded([3, 4], 216).logSoftmax(1).detach().requiresGrad_(), probabilities([3, 4], 217)],
    fn: (input, target) => F.klDiv(input, target, { reduction: "batchmean" }),
    smooth: true,
  },
  {
    name: "klDiv logTarget, mean",
    inputs: () => [seeded([3, 4], 218), seeded([3, 4], 219)],
    fn: (input, target) => F.klDiv(input, target, { logTarget: true }),
    smooth: true,
  },
  {
    name: "binaryCrossEntropy with weight",
    inputs: () => [probabilities([3, 4], 220), probabilities([3, 4], 221)],
    fn: (input, target) =>
      F.binaryCrossEntropy(input, target, { weight: seeded([4], 222, { domain: "positive" }) }),
    smooth: true,
  },
];

describe("gradcheck (float64)", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_, { inputs, fn }) => {
    const given = inputs();
    expect(gradcheck(fn, given)).toHaveLength(given.length);
  });
});

describe("gradgradcheck (float64)", () => {
  it.each(cases.filter((c) => c.smooth).map((c) => [c.name, c] as const))("%s", (_, { inputs, fn }) => {
    const given = inputs();
    expect(gradgradcheck(fn, given)).toHaveLength(given.length + 1);
  });
});

describe("the special points", () => {
  it("klDiv: a zero target contributes 0 and a finite input gradient −0 (xlogy)", () => {
    const input = tensor([-1, -2], { dtype: "float64", requiresGrad: true });
    const loss = F.klDiv(input, tensor([0, 0.5], { dtype: "float64" }), { reduction: "sum" });
    expect(loss.item()).toBeCloseTo(0.5 * (Math.log(0.5) + 2), 15);
    loss.backward();
    expect(input.grad?.tolist()).toEqual([-0, -0.5]);
  });

  it("binaryCrossEntropy: x = 0 and 1 give the clamped −100 logs and finite gradients", () => {
    const input = tensor([0, 1, 0, 1], { dtype: "float64", requiresGrad: true });
    const loss = F.binaryCrossEntropy(input, tensor([1, 0, 0, 1], { dtype: "float64" }), {
      reduction: "none",
    });
    expect(loss).toBeAllclose([100, 100, 0, 0], { rtol: 0, atol: 0 });
    loss.sum().backward();
    const epsilon = Math.fround(1e-12);
    expect(input.grad?.tolist()).toEqual([-1 / epsilon, 1 / epsilon, 0, 0]);
  });
});
