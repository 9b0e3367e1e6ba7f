// Double backward through the layers: the norm ops (fused kernels and composed, train and eval) and max pooling, by gradgradcheck.
import { defineOp, gradgradcheck, randn, type Tensor, tensor } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import { normalizeImplementations } from "../src/functional/normalize.ts";
import { F } from "../src/index.ts";

describe("gradgradcheck through the normalization layers (float64)", () => {
  // x, γ, β all require grad, so the checked second derivatives cover ∂²/∂x², ∂²/∂x∂γ, … and
  // the mixed terms with the output weights.
  const cases: {
    name: string;
    shape: number[];
    fn: (x: Tensor, w: Tensor, b: Tensor) => Tensor;
    channels: number;
  }[] = [
    {
      name: "BatchNorm, training (batch statistics)",
      shape: [4, 3, 2],
      channels: 3,
      fn: (x, weight, bias) => F.batchNorm(x, null, null, { weight, bias, training: true }),
    },
    {
      name: "BatchNorm, eval (running statistics)",
      shape: [4, 3],
      channels: 3,
      fn: (x, weight, bias) =>
        F.batchNorm(
          x,
          tensor([0.1, -0.2, 0.3], { dtype: "float64" }),
          tensor([0.5, 1.5, 2], { dtype: "float64" }),
          {
            weight,
            bias,
            training: false,
          },
        ),
    },
    {
      name: "LayerNorm over the last dim",
      shape: [3, 4],
      channels: 4,
      fn: (x, weight, bias) => F.layerNorm(x, 4, { weight, bias }),
    },
    {
      name: "GroupNorm, 2 groups",
      shape: [2, 4, 3],
      channels: 4,
      fn: (x, weight, bias) => F.groupNorm(x, 2, { weight, bias }),
    },
    {
      name: "InstanceNorm",
      shape: [2, 3, 4],
      channels: 3,
      fn: (x, weight, bias) => F.instanceNorm(x, { weight, bias }),
    },
  ];
  it.each(cases)("$name", ({ shape, fn, channels }) => {
    const x = randn(shape, { dtype: "float64", requiresGrad: true });
    const weight = randn([channels], { dtype: "float64" }).add(1.5).detach().requiresGrad_();
    const bias = randn([channels], { dtype: "float64", requiresGrad: true });
    const reports = gradgradcheck(fn, [x, weight, bias], { atol: 1e-5, rtol: 1e-3 });
    expect(reports).toHaveLength(4);
    expect([x.grad, weight.grad, bias.grad]).toEqual([null, null, null]);
  });

  it.each(["fused", "composed"] as const)("the %s implementation's recorded backward agrees", (kind) => {
    const x = randn([5, 3, 2], { dtype: "float64", requiresGrad: true });
    const weight = randn([3], { dtype: "float64", requiresGrad: true });
    const layout = { kind: "per-channel", outer: 5, channels: 3, inner: 2 } as const;
    gradgradcheck(
      (input, w) =>
        normalizeImplementations[kind](input, layout, w, null, { eps: 1e-5, statistics: null }).output,
      [x, weight],
    );
  });
});

describe("double backward through pooling", () => {
  it("max pooling: the recorded scatter of the gradient is differentiable (gradgradcheck)", () => {
    const x = randn([1, 2, 4, 4], { dtype: "float64", requiresGrad: true });
    gradgradcheck((input) => F.maxPool2d(input, 2).square(), [x]);
  });

  it("conv2d (stride, padding, groups) and average pooling: the gradient ops' own VJPs (gradgradcheck)", () => {
    const x = randn([2, 4, 5, 5], { dtype: "float64", requiresGrad: true });
    const weight = randn([4, 2, 3, 3], { dtype: "float64", requiresGrad: true });
    gradgradcheck((input, w) => F.conv2d(input, w, { stride: 2, padding: 1, groups: 2 }).tanh(), [x, weight]);
    gradgradcheck((input) => F.avgPool2d(input, 3, { stride: 2, padding: 1 }).square(), [x]);
  });

  it("a custom op without twiceDifferentiable refuses createGraph, naming it", () => {
    const double = defineOp({
      name: "double",
      forward: (x: Tensor) => ({ output: x.mul(2), saved: null }),
      backward: (dy) => [dy.mul(2)],
    });
    const x = randn([3], { dtype: "float64", requiresGrad: true });
    expect(() => gradgradcheck(double, [x])).toThrow("double has no differentiable backward");
  });
});
