// Float64 gradcheck of every layer and loss w.r.t. its input and each of its parameters.
import { Generator, gradcheck, randint, type Tensor, tensor } from "@normgrad/core";
import { seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { F } from "../src/index.ts";

interface Case {
  name: string;
  inputs: () => Tensor[];
  fn: (...inputs: Tensor[]) => Tensor;
}

const classIndices = (shape: number[], classes: number, seed: number) =>
  randint(0, classes, shape, { generator: new Generator(seed) });

const cases: Case[] = [
  {
    name: "linear",
    inputs: () => [seeded([3, 4], 1), seeded([5, 4], 2), seeded([5], 3)],
    fn: (x, w, b) => F.linear(x, w, b),
  },
  {
    name: "linear, 3-D input, no bias",
    inputs: () => [seeded([2, 3, 4], 4), seeded([2, 4], 5)],
    fn: (x, w) => F.linear(x, w),
  },
  {
    name: "linear, 1-D input",
    inputs: () => [seeded([3], 90), seeded([2, 3], 91), seeded([2], 92)],
    fn: (x, w, b) => F.linear(x, w, b),
  },
  {
    name: "conv2d",
    inputs: () => [seeded([2, 2, 5, 5], 6), seeded([3, 2, 3, 3], 7), seeded([3], 8)],
    fn: (x, w, b) => F.conv2d(x, w, { bias: b }),
  },
  {
    name: "conv2d stride 2, padding 1",
    inputs: () => [seeded([1, 2, 6, 5], 9), seeded([2, 2, 3, 3], 10), seeded([2], 11)],
    fn: (x, w, b) => F.conv2d(x, w, { bias: b, stride: 2, padding: 1 }),
  },
  {
    name: "conv2d dilation [2, 1], tuple padding, rectangular kernel",
    inputs: () => [seeded([1, 2, 6, 6], 12), seeded([2, 2, 2, 3], 13)],
    fn: (x, w) => F.conv2d(x, w, { padding: [1, 2], dilation: [2, 1] }),
  },
  {
    name: "conv2d groups 2",
    inputs: () => [seeded([1, 4, 4, 4], 14), seeded([4, 2, 3, 3], 15), seeded([4], 16)],
    fn: (x, w, b) => F.conv2d(x, w, { bias: b, groups: 2, padding: 1 }),
  },
  {
    name: "conv2d depthwise with multiplier 2, stride [2, 1]",
    inputs: () => [seeded([1, 2, 5, 5], 17), seeded([4, 1, 3, 3], 18)],
    fn: (x, w) => F.conv2d(x, w, { groups: 2, stride: [2, 1] }),
  },
  {
    name: "conv2d padding same, even kernel",
    inputs: () => [seeded([1, 1, 4, 5], 19), seeded([2, 1, 2, 4], 20), seeded([2], 21)],
    fn: (x, w, b) => F.conv2d(x, w, { bias: b, padding: "same" }),
  },
  {
    name: "conv2d unbatched (C, H, W)",
    inputs: () => [seeded([2, 4, 4], 22), seeded([2, 2, 3, 3], 23)],
    fn: (x, w) => F.conv2d(x, w),
  },
  {
    name: "maxPool2d k3 s2 p1",
    inputs: () => [seeded([1, 2, 5, 5], 24)],
    fn: (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }),
  },
  {
    name: "maxPool2d dilation 2, ceil mode",
    inputs: () => [seeded([1, 1, 6, 7], 25)],
    fn: (x) => F.maxPool2d(x, 2, { stride: 2, dilation: 2, ceilMode: true }),
  },
  {
    name: "avgPool2d count include pad",
    inputs: () => [seeded([1, 2, 5, 5], 26)],
    fn: (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1 }),
  },
  {
    name: "avgPool2d exclude pad, ceil mode",
    inputs: () => [seeded([1, 1, 6, 6], 27)],
    fn: (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
  },
  {
    name: "avgPool2d divisorOverride",
    inputs: () => [seeded([1, 1, 4, 4], 28)],
    fn: (x) => F.avgPool2d(x, 2, { divisorOverride: 3 }),
  },
  {
    name: "adaptiveAvgPool2d, even split",
    inputs: () => [seeded([1, 2, 4, 6], 29)],
    fn: (x) => F.adaptiveAvgPool2d(x, [2, 3]),
  },
  {
    name: "adaptiveAvgPool2d, overlapping cells",
    inputs: () => [seeded([1, 2, 5, 7], 30)],
    fn: (x) => F.adaptiveAvgPool2d(x, [3, 2]),
  },
  { name: "relu", inputs: () => [seeded([3, 4], 31)], fn: (x) => F.relu(x) },
  { name: "leakyRelu", inputs: () => [seeded([3, 4], 32)], fn: (x) => F.leakyRelu(x, 0.2) },
  { name: "sigmoid", inputs: () => [seeded([3, 4], 33)], fn: (x) => F.sigmoid(x) },
  { name: "tanh", inputs: () => [seeded([3, 4], 34)], fn: (x) => F.tanh(x) },
  { name: "gelu", inputs: () => [seeded([3, 4], 35)], fn: (x) => F.gelu(x) },
  { name: "gelu tanh", inputs: () => [seeded([3, 4], 36)], fn: (x) => F.gelu(x, { approximate: "tanh" }) },
  { name: "softmax", inputs: () => [seeded([3, 4], 37)], fn: (x) => F.softmax(x, 1) },
  { name: "logSoftmax", inputs: () => [seeded([2, 3, 4], 38)], fn: (x) => F.logSoftmax(x, 1) },
  {
    name: "dropout (fixed generator)",
    inputs: () => [seeded([4, 5], 39)],
    fn: (x) => F.dropout(x, { p: 0.3, generator: new Generator(7) }),
  },
  {
    name: "crossEntropy, class weights, ignored target, label smoothing",
    inputs: () => [seeded([5, 4], 40), seeded([4], 41, { requiresGrad: false }).abs()],
    fn: (logits, weight) =>
      F.crossEntropy(logits, tensor([0, 3, 2, 1, 3], { dtype: "int32" }), {
        weight,
        ignoreIndex: 3,
        labelSmoothing: 0.2,
      }),
  },
  {
    name: "crossEntropy (N, C, d) with reduction sum",
    inputs: () => [seeded([2, 3, 4], 42)],
    fn: (logits) => F.crossEntropy(logits, classIndices([2, 4], 3, 2), { reduction: "sum" }),
  },
  {
    name: "crossEntropy against probabilities (both require grad)",
    inputs: () => [seeded([3, 4], 43), seeded([3, 4], 44).softmax(1).detach().requiresGrad_()],
    fn: (logits, target) => F.crossEntropy(logits, target, { labelSmoothing: 0.1 }),
  },
  {
    name: "nllLoss on log-probabilities, reduction none",
    inputs: () => [seeded([4, 3], 45)],
    fn: (x) => F.nllLoss(x.logSoftmax(1), classIndices([4], 3, 3), { reduction: "none" }),
  },
  {
    name: "mseLoss (input and target)",
    inputs: () => [seeded([3, 4], 46), seeded([3, 4], 47)],
    fn: (input, target) => F.mseLoss(input, target),
  },
  {
    name: "binaryCrossEntropyWithLogits with weight and posWeight",
    inputs: () => [seeded([3, 4], 48), seeded([3, 4], 49).sigmoid().detach().requiresGrad_()],
    fn: (input, target) =>
      F.binaryCrossEntropyWithLogits(input, target, {
        weight: seeded([4], 50, { requiresGrad: false }).abs(),
        posWeight: seeded([4], 51, { requiresGrad: false }).abs(),
      }),
  },
];

describe("gradcheck (float64)", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_, { inputs, fn }) => {
    const reports = gradcheck(fn, inputs());
    expect(reports.length).toBeGreaterThan(0);
  });
});
