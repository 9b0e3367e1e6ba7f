// Double backward through the layers by gradgradcheck: the norm ops (fused and composed, train and eval), conv and pooling, every layer and loss.
import { defineOp, grad, gradgradcheck, randn, type Tensor, tensor } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import { normalizeImplementations } from "../src/functional/normalize.ts";
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  BCEWithLogitsLoss,
  Conv2d,
  CrossEntropyLoss,
  Dropout,
  F,
  Flatten,
  GELU,
  GroupNorm,
  InstanceNorm1d,
  LayerNorm,
  LeakyReLU,
  Linear,
  LogSoftmax,
  MaxPool2d,
  MSELoss,
  NLLLoss,
  ReLU,
  Sigmoid,
  Softmax,
  Tanh,
  type TensorModule,
} from "../src/index.ts";

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

describe("gradgradcheck through every layer and loss (float64, w.r.t. the input)", () => {
  const options = { dtype: "float64" } as const;
  // Each layer in the modes it has; BatchNorm's training mode also updates its running statistics
  // on every call, which its training output does not read.
  const layers: { name: string; make: () => TensorModule; shape: number[]; train?: boolean }[] = [
    { name: "Linear", make: () => new Linear(3, 4, options), shape: [2, 3] },
    { name: "Conv2d", make: () => new Conv2d(2, 3, 3, { padding: 1, ...options }), shape: [1, 2, 4, 4] },
    { name: "MaxPool2d", make: () => new MaxPool2d(2), shape: [1, 2, 4, 4] },
    { name: "AvgPool2d", make: () => new AvgPool2d(2), shape: [1, 2, 4, 4] },
    { name: "AdaptiveAvgPool2d", make: () => new AdaptiveAvgPool2d(2), shape: [1, 2, 5, 5] },
    { name: "BatchNorm1d (train)", make: () => new BatchNorm1d(3, options), shape: [4, 3] },
    { name: "BatchNorm1d (eval)", make: () => new BatchNorm1d(3, options).eval(), shape: [4, 3] },
    { name: "BatchNorm2d (train)", make: () => new BatchNorm2d(2, options), shape: [2, 2, 2, 2] },
    { name: "BatchNorm2d (eval)", make: () => new BatchNorm2d(2, options).eval(), shape: [2, 2, 2, 2] },
    { name: "LayerNorm", make: () => new LayerNorm([4], options), shape: [3, 4] },
    { name: "GroupNorm", make: () => new GroupNorm(2, 4, options), shape: [2, 4, 3] },
    { name: "InstanceNorm1d", make: () => new InstanceNorm1d(3, options), shape: [2, 3, 4] },
    { name: "ReLU", make: () => new ReLU(), shape: [3, 4] },
    { name: "LeakyReLU", make: () => new LeakyReLU(0.1), shape: [3, 4] },
    { name: "Sigmoid", make: () => new Sigmoid(), shape: [3, 4] },
    { name: "Tanh", make: () => new Tanh(), shape: [3, 4] },
    { name: "GELU", make: () => new GELU(), shape: [3, 4] },
    { name: "GELU (tanh)", make: () => new GELU({ approximate: "tanh" }), shape: [3, 4] },
    { name: "Softmax", make: () => new Softmax(1), shape: [3, 4] },
    { name: "LogSoftmax", make: () => new LogSoftmax(1), shape: [3, 4] },
    { name: "Flatten", make: () => new Flatten(), shape: [2, 2, 3] },
    { name: "Dropout (eval: the identity)", make: () => new Dropout(0.5).eval(), shape: [3, 4] },
  ];
  it.each(layers)("$name", ({ make, shape }) => {
    const layer = make();
    const x = randn(shape, { dtype: "float64", requiresGrad: true });
    // Nonlinear on top, so the layer's own second derivative is not hidden by a linear objective.
    gradgradcheck((input) => layer.forward(input).tanh(), [x]);
  });

  it.each([
    [
      "CrossEntropyLoss",
      (x: Tensor) => new CrossEntropyLoss().forward(x, tensor([1, 0, 2], { dtype: "int32" })),
    ],
    ["NLLLoss", (x: Tensor) => new NLLLoss().forward(x.logSoftmax(1), tensor([2, 2, 0], { dtype: "int32" }))],
    [
      "MSELoss",
      (x: Tensor) =>
        new MSELoss().forward(
          x.tanh(),
          tensor(
            [
              [0, 1, -1],
              [0.5, 0, 0],
              [1, 1, 1],
            ],
            { dtype: "float64" },
          ),
        ),
    ],
    [
      "BCEWithLogitsLoss",
      (x: Tensor) =>
        new BCEWithLogitsLoss().forward(
          x,
          tensor(
            [
              [0, 1, 0.5],
              [1, 0.25, 0],
              [0, 0, 1],
            ],
            { dtype: "float64" },
          ),
        ),
    ],
  ] as const)("%s", (_, loss) => {
    gradgradcheck(loss, [randn([3, 3], { dtype: "float64", requiresGrad: true })]);
  });

  it("Dropout in training: linear in x (a fixed mask per call), so its first derivative has no graph: d² = 0", () => {
    const x = randn([3, 4], { dtype: "float64", requiresGrad: true });
    const [first] = grad([new Dropout(0.5).forward(x).sum()], [x], { createGraph: true });
    expect(first?.requiresGrad).toBe(false);
    expect(new Set(first?.dataSync())).toEqual(new Set([0, 2]));
  });
});
