// The #20 layers: float64 gradcheck (gradgradcheck for the smooth ones), Embedding's padding row (whose zero
// gradient is by design, not the derivative, so it is checked apart), and the error paths.
import { gradcheck, gradgradcheck, type Tensor, tensor } from "@normgrad/core";
import { seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import {
  AdaptiveMaxPool2d,
  AvgPool1d,
  Conv1d,
  Conv2d,
  Embedding,
  F,
  Linear,
  MaxPool1d,
  ModuleDict,
  ParameterList,
  Upsample,
} from "../src/index.ts";

const indices = tensor(
  [
    [0, 2, 2],
    [3, 1, 0],
  ],
  { dtype: "int32" },
);

interface Case {
  name: string;
  inputs: () => Tensor[];
  fn: (...inputs: Tensor[]) => Tensor;
  /** Smooth (linear or bilinear in the inputs), so the second derivative is checked too. */
  smooth: boolean;
}

const cases: Case[] = [
  { name: "embedding", inputs: () => [seeded([4, 3], 1)], fn: (w) => F.embedding(indices, w), smooth: true },
  {
    name: "conv1d stride 2 padding 1 groups 2",
    inputs: () => [seeded([2, 4, 7], 3), seeded([4, 2, 3], 4), seeded([4], 5)],
    fn: (x, w, b) => F.conv1d(x, w, { bias: b, stride: 2, padding: 1, groups: 2 }),
    smooth: true,
  },
  ...(["reflect", "replicate", "circular"] as const).map((mode, i) => ({
    name: `pad ${mode}`,
    inputs: () => [seeded([1, 2, 3, 4], 6 + i)],
    fn: (x: Tensor) => F.pad(x, [2, 1, 1, 2], { mode }),
    smooth: true,
  })),
  {
    name: "maxPool1d 3/2 pad 1",
    inputs: () => [seeded([2, 2, 7], 10)],
    fn: (x) => F.maxPool1d(x, 3, { stride: 2, padding: 1 }),
    smooth: false,
  },
  {
    name: "avgPool1d 3/2 pad 1, padding not counted",
    inputs: () => [seeded([2, 2, 7], 11)],
    fn: (x) => F.avgPool1d(x, 3, { stride: 2, padding: 1, countIncludePad: false }),
    smooth: true,
  },
  {
    name: "adaptiveMaxPool2d 3×4 of 5×7",
    inputs: () => [seeded([1, 2, 5, 7], 12)],
    fn: (x) => F.adaptiveMaxPool2d(x, [3, 4]),
    smooth: false,
  },
  {
    name: "interpolate nearest 1.5",
    inputs: () => [seeded([1, 2, 3, 4], 13)],
    fn: (x) => F.interpolate(x, { scaleFactor: 1.5 }),
    smooth: true,
  },
  ...([false, true] as const).map((alignCorners, i) => ({
    name: `interpolate bilinear, alignCorners ${alignCorners}`,
    inputs: () => [seeded([1, 2, 3, 4], 14 + i)],
    fn: (x: Tensor) => F.interpolate(x, { size: [5, 6], mode: "bilinear", alignCorners }),
    smooth: true,
  })),
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

describe("Embedding", () => {
  it("zeroes the padding row at init and gives it no gradient", () => {
    const embedding = new Embedding(5, 3, { paddingIdx: -1 });
    expect(embedding.paddingIdx).toBe(4);
    expect(embedding.weight.narrow(0, 4, 1).tolist()).toEqual([[0, 0, 0]]);
    embedding
      .forward(tensor([4, 1, 4], { dtype: "int32" }))
      .sum()
      .backward();
    expect(embedding.weight.grad?.narrow(0, 4, 1).tolist()).toEqual([[0, 0, 0]]);
    expect(embedding.weight.grad?.narrow(0, 1, 1).tolist()).toEqual([[1, 1, 1]]);
  });
});

describe("error paths name the values", () => {
  it.each([
    ["Embedding maxNorm", () => new Embedding(4, 2, { maxNorm: 1 }), /maxNorm \(1\) is not supported/],
    ["Embedding paddingIdx", () => new Embedding(4, 2, { paddingIdx: 4 }), /\[-4, 3\].*got 4/],
    ["embedding float indices", () => F.embedding(tensor([0, 1]), seeded([3, 2], 1)), /int32, got float32/],
    [
      "embedding index range",
      () => F.embedding(tensor([5], { dtype: "int32" }), seeded([3, 2], 1)),
      /index 5/,
    ],
    ["Conv1d paddingMode", () => new Conv1d(2, 2, 3, { paddingMode: "mirror" as "reflect" }), /got "mirror"/],
    ["Conv2d paddingMode", () => new Conv2d(2, 2, 3, { paddingMode: "wrap" as "circular" }), /got "wrap"/],
    ["Conv1d same with stride", () => new Conv1d(2, 2, 3, { padding: "same", stride: 2 }), /stride/],
    ["Conv1d groups", () => new Conv1d(3, 2, 3, { groups: 2 }), /inChannels 3.*groups 2/],
    [
      "conv1d input rank",
      () => F.conv1d(seeded([2, 3, 4, 5], 1), seeded([2, 3, 1], 2)),
      /\(N, C, L\).*\[2, 3, 4, 5\]/,
    ],
    [
      "pad reflect too wide",
      () => F.pad(seeded([1, 3], 1), [3, 0], { mode: "reflect" }),
      /\(3, 0\).*less than.*3/,
    ],
    ["pad mode", () => F.pad(seeded([1, 3], 1), [1, 1], { mode: "edge" as "reflect" }), /got "edge"/],
    ["MaxPool1d padding", () => new MaxPool1d(2, { padding: 2 }), /padding 2.*kernel size 2/],
    ["AvgPool1d kernel", () => new AvgPool1d(0), /kernelSize must be an integer ≥ 1, got 0/],
    ["maxPool1d rank", () => F.maxPool1d(seeded([3], 1), 2), /\(N, C, L\) or \(C, L\).*\[3\]/],
    ["AdaptiveMaxPool2d size", () => new AdaptiveMaxPool2d(0), /got 0/],
    ["Upsample neither", () => new Upsample(), /exactly one of size and scaleFactor/],
    [
      "Upsample nearest alignCorners",
      () => new Upsample({ size: 4, alignCorners: true }),
      /alignCorners \(true\)/,
    ],
    [
      "interpolate bilinear 3-D",
      () => F.interpolate(seeded([1, 2, 3], 1), { size: 4, mode: "bilinear" }),
      /\[1, 2, 3\]/,
    ],
    ["interpolate zero size", () => F.interpolate(seeded([1, 1, 3, 3], 1), { scaleFactor: 0.2 }), /\[0, 0\]/],
    ["ModuleDict capital key", () => new ModuleDict({ myLayer: new Linear(1, 1) }), /"myLayer"/],
    ["ModuleDict clash", () => new ModuleDict({ training: new Linear(1, 1) }), /"training" clashes/],
    ["ModuleDict missing", () => new ModuleDict().get("head"), /no key "head"/],
    [
      "ParameterList index",
      () => new ParameterList([seeded([2], 1)]).at(3),
      /index 3 is out of range for length 1/,
    ],
  ] as const)("%s", (_, run, message) => {
    expect(run).toThrow(message);
  });
});

describe("containers", () => {
  it("ModuleDict keeps insertion order, replaces and deletes keys", () => {
    const dict = new ModuleDict<Linear>({ b: new Linear(1, 2), a: new Linear(2, 1) });
    expect([...dict.keys()]).toEqual(["b", "a"]);
    dict.delete("b");
    dict.set("c", new Linear(3, 1));
    expect([...dict.stateDict().keys()]).toEqual(["a.weight", "a.bias", "c.weight", "c.bias"]);
    expect(dict.size).toBe(2);
    expect(() => dict.forward()).toThrow(/no forward/);
  });

  it("ParameterList wraps tensors as parameters that the module walk finds", () => {
    const list = new ParameterList([seeded([2], 1, { requiresGrad: false })]).append(seeded([3], 2));
    expect([...list.parameters()]).toHaveLength(2);
    expect(list.at(-1).shape).toEqual([3]);
    expect(list.at(0).requiresGrad).toBe(true);
  });
});
