// Shape and option validation: every layer and loss refuses bad input with a message naming the values.
import { ones, randn, tensor, zeros } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  Conv2d,
  CrossEntropyLoss,
  Dropout,
  F,
  GELU,
  Linear,
  MaxPool2d,
  MSELoss,
  NLLLoss,
  type Reduction,
  Sequential,
  Softmax,
} from "../src/index.ts";

const logits = () => randn([3, 4]);
const targets = (values: number[]) => tensor(values, { dtype: "int32" });

const cases: [name: string, call: () => unknown, message: RegExp][] = [
  [
    "Linear with zero features",
    () => new Linear(0, 3),
    /Linear inFeatures must be a positive integer, got 0/,
  ],
  [
    "Linear on the wrong feature count",
    () => new Linear(3, 2).forward(zeros([4, 5])),
    /linear: input \[4, 5\] must end in in_features = 3 \(weight \[2, 3\]\)/,
  ],
  [
    "a float32 Linear on float64 input",
    () => new Linear(3, 2).forward(zeros([1, 3], { dtype: "float64" })),
    /linear: expected the input and weight to have the same dtype, got input float64 and weight float32: convert the module with \.to\("float64"\) or the input with \.to\("float32"\)/,
  ],
  [
    "F.linear with a bias of another dtype",
    () => F.linear(zeros([1, 3]), zeros([2, 3]), zeros([2], { dtype: "float64" })),
    /linear: expected the input and bias to have the same dtype, got input float32 and bias float64/,
  ],
  [
    "crossEntropy with ignoreIndex NaN",
    () => F.crossEntropy(logits(), targets([0, 1, 2]), { ignoreIndex: Number.NaN }),
    /crossEntropy: ignoreIndex must be an integer \(the class index whose targets are skipped, default -100\), got NaN/,
  ],
  [
    "nllLoss with ignoreIndex 1.5",
    () => F.nllLoss(logits(), targets([0, 1, 2]), { ignoreIndex: 1.5 }),
    /nllLoss: ignoreIndex must be an integer .*got 1\.5/,
  ],
  [
    "CrossEntropyLoss with ignoreIndex 1.5",
    () => new CrossEntropyLoss({ ignoreIndex: 1.5 }),
    /CrossEntropyLoss: ignoreIndex must be an integer .*got 1\.5/,
  ],
  [
    "NLLLoss with ignoreIndex Infinity",
    () => new NLLLoss({ ignoreIndex: Number.POSITIVE_INFINITY }),
    /NLLLoss: ignoreIndex must be an integer .*got Infinity/,
  ],
  [
    "Linear on int32 input",
    () => new Linear(3, 2).forward(zeros([1, 3], { dtype: "int32" })),
    /must be float32 or float64, got int32/,
  ],
  [
    "Conv2d with groups not dividing the channels",
    () => new Conv2d(3, 4, 3, { groups: 2 }),
    /inChannels 3 and outChannels 4 must both be divisible by groups 2/,
  ],
  [
    "Conv2d with padding same and a stride",
    () => new Conv2d(1, 1, 3, { padding: "same", stride: 2 }),
    /padding "same" is not supported for strided convolutions/,
  ],
  ["Conv2d with a zero kernel", () => new Conv2d(1, 1, 0), /Conv2d kernelSize must be integers ≥ 1, got 0/],
  [
    "Conv2d with negative padding",
    () => new Conv2d(1, 1, 3, { padding: -1 }),
    /Conv2d padding must be integers ≥ 0/,
  ],
  [
    "Conv2d on the wrong channel count",
    () => new Conv2d(3, 4, 3).forward(zeros([1, 2, 5, 5])),
    /weight \[4, 3, 3, 3\] with groups=1 expects 3 input channels, but the input \[1, 2, 5, 5\] has 2/,
  ],
  [
    "Conv2d on a 2-D input",
    () => new Conv2d(1, 1, 3).forward(zeros([5, 5])),
    /conv2d expects a \(N, C, H, W\) or \(C, H, W\) input, got shape \[5, 5\]/,
  ],
  [
    "Conv2d with a kernel larger than the padded input",
    () => new Conv2d(1, 1, 5).forward(zeros([1, 1, 3, 3])),
    /padded input height 3 is smaller than the \(dilated\) kernel 5/,
  ],
  [
    "conv2d with mixed dtypes",
    () => F.conv2d(zeros([1, 1, 3, 3], { dtype: "float64" }), zeros([1, 1, 3, 3])),
    /conv2d: expected the input and weight to have the same dtype, got input float64 and weight float32: convert the module with \.to\("float64"\) or the input with \.to\("float32"\)/,
  ],
  [
    "conv2d with a wrong bias",
    () => F.conv2d(zeros([1, 1, 3, 3]), zeros([2, 1, 3, 3]), { bias: zeros([3]) }),
    /conv2d: bias \[3\] must be \[2\]/,
  ],
  [
    "MaxPool2d with padding over half the kernel",
    () => new MaxPool2d(2, { padding: 2 }),
    /padding \[2, 2\] should be at most half of the kernel size \[2, 2\]/,
  ],
  [
    "MaxPool2d with stride 0",
    () => new MaxPool2d(2, { stride: 0 }),
    /MaxPool2d stride must be integers ≥ 1, got 0/,
  ],
  [
    "MaxPool2d on a too small input",
    () => new MaxPool2d(3).forward(zeros([1, 1, 2, 2])),
    /maxPool2d: the output size \[0, 0\] is too small for input \[1, 1, 2, 2\]/,
  ],
  [
    "AvgPool2d with a zero divisor override",
    () => new AvgPool2d(2, { divisorOverride: 0 }).forward(zeros([1, 1, 2, 2])),
    /divisorOverride must be a non-zero number, got 0/,
  ],
  [
    "AvgPool2d on int32",
    () => new AvgPool2d(2).forward(zeros([1, 1, 2, 2], { dtype: "int32" })),
    /got int32/,
  ],
  [
    "AdaptiveAvgPool2d with size 0",
    () => new AdaptiveAvgPool2d(0),
    /outputSize must be a positive int or a pair/,
  ],
  [
    "Dropout with p = 1.5",
    () => new Dropout(1.5),
    /dropout probability has to be between 0 and 1, but got 1\.5/,
  ],
  ["Softmax with a fractional dim", () => new Softmax(0.5), /Softmax: dim must be an integer, got 0\.5/],
  [
    "GELU with an unknown approximation",
    () => new GELU({ approximate: "fast" as "tanh" }),
    /approximate must be "none" or "tanh", got "fast"/,
  ],
  [
    "crossEntropy with a target too large",
    () => F.crossEntropy(logits(), targets([0, 7, 1])),
    /crossEntropy: target 7 is out of bounds: class indices must be in \[0, 3\] or equal ignoreIndex -100/,
  ],
  [
    "crossEntropy with a negative target",
    () => new CrossEntropyLoss({ ignoreIndex: 1 }).forward(logits(), targets([0, -2, 1])),
    /target -2 is out of bounds: class indices must be in \[0, 3\]$/,
  ],
  [
    "crossEntropy with targets of the wrong shape",
    () => F.crossEntropy(logits(), targets([0, 1])),
    /target \[2\] does not match input \[3, 4\]: expected class indices of shape \[3\]/,
  ],
  [
    "crossEntropy with float targets of another shape",
    () => F.crossEntropy(logits(), zeros([3])),
    /probability targets \[3\] must have the input's shape \[3, 4\] \(or pass int32 class indices\)/,
  ],
  [
    "crossEntropy with a class weight of the wrong size",
    () => F.crossEntropy(logits(), targets([0, 1, 2]), { weight: ones([3]) }),
    /weight \[3\] must have one entry per class, \[4\]/,
  ],
  [
    "crossEntropy with label smoothing 2",
    () => new CrossEntropyLoss({ labelSmoothing: 2 }),
    /labelSmoothing must be in \[0, 1\], got 2/,
  ],
  [
    "an unknown reduction",
    () => new MSELoss({ reduction: "avg" as Reduction }),
    /MSELoss: reduction must be "mean", "sum" or "none", got "avg"/,
  ],
  [
    "nllLoss with a target out of range",
    () => new NLLLoss().forward(logits(), targets([4, 0, 0])),
    /nllLoss: target 4 is out of bounds/,
  ],
  [
    "mseLoss with different shapes",
    () => F.mseLoss(zeros([2, 3]), zeros([3])),
    /mseLoss: input \[2, 3\] and target \[3\] must have the same shape/,
  ],
  [
    "binaryCrossEntropyWithLogits with different shapes",
    () => F.binaryCrossEntropyWithLogits(zeros([2]), zeros([3])),
    /input \[2\] and target \[3\] must have the same shape/,
  ],
  [
    "a Sequential index out of range",
    () => new Sequential(new Linear(1, 1)).at(5),
    /Sequential index 5 is out of range/,
  ],
  // NaN and Infinity are named as such (JSON.stringify printed them as null).
  ["a NaN kernel size", () => new Conv2d(1, 1, Number.NaN), /got NaN$/],
  [
    "an infinite stride",
    () => F.maxPool2d(randn([1, 1, 4, 4]), 2, { stride: Number.POSITIVE_INFINITY }),
    /got Infinity$/,
  ],
  ["a NaN output size", () => new AdaptiveAvgPool2d([Number.NaN, 2]), /got \[NaN, 2\]$/],
  [
    "a padding pair of three",
    () => Reflect.construct(Conv2d, [1, 1, 3, { padding: [1, 2, 3] }]),
    /padding must be an int or a \[height, width\] pair, got \[1, 2, 3\]$/,
  ],
];

describe("validation errors", () => {
  it.each(cases)("refuses %s", (_, call, message) => {
    expect(call).toThrow(message);
  });
});

describe("what is accepted", () => {
  it("unbatched (C, H, W) input through conv and pools", () => {
    const x = randn([2, 6, 6]);
    expect(new Conv2d(2, 3, 3).forward(x).shape).toEqual([3, 4, 4]);
    expect(new MaxPool2d(2).forward(x).shape).toEqual([2, 3, 3]);
    expect(new AvgPool2d(2).forward(x).shape).toEqual([2, 3, 3]);
    expect(new AdaptiveAvgPool2d([1, null]).forward(x).shape).toEqual([2, 1, 6]);
  });

  it("ignored targets give zero loss and zero gradient", () => {
    const input = randn([3, 4], { requiresGrad: true });
    const loss = F.crossEntropy(input, targets([1, -100, 2]), { reduction: "none" });
    expect(loss.dataSync()[1]).toBe(0);
    loss.sum().backward();
    expect(Array.from(input.grad?.dataSync().slice(4, 8) ?? [])).toEqual([0, 0, 0, 0]);
  });

  it("adaptive pooling to 1×1 equals the spatial mean", () => {
    const x = randn([2, 3, 5, 7], { dtype: "float64" });
    const pooled = F.adaptiveAvgPool2d(x, 1).reshape([2, 3]).dataSync();
    const mean = x.mean([2, 3]).dataSync();
    pooled.forEach((value, i) => {
      expect(value).toBeCloseTo(mean[i], 12);
    });
  });
});
