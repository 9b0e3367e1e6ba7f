// Initialization: gains, fans, the bounds and spreads of each scheme, seeding, and PyTorch's layer defaults.
import { Generator, manualSeed, type Tensor, tensor, zeros } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import { Conv2d, init, Linear, Parameter } from "../src/index.ts";

function stats(tensor: Tensor): { min: number; max: number; mean: number; std: number } {
  const values = Array.from(tensor.dataSync());
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  return { min: Math.min(...values), max: Math.max(...values), mean, std: Math.sqrt(variance) };
}

describe("calculateGain", () => {
  it.each([
    ["linear", undefined, 1],
    ["conv2d", undefined, 1],
    ["sigmoid", undefined, 1],
    ["tanh", undefined, 5 / 3],
    ["relu", undefined, Math.SQRT2],
    ["leakyRelu", undefined, Math.sqrt(2 / (1 + 0.01 ** 2))],
    ["leakyRelu", Math.sqrt(5), Math.sqrt(1 / 3)],
    ["selu", undefined, 0.75],
  ] as const)("%s (param %s) = %d", (nonlinearity, param, expected) => {
    expect(init.calculateGain(nonlinearity, param)).toBeCloseTo(expected, 14);
  });
});

describe("fans", () => {
  it("are size(1)·receptive field and size(0)·receptive field", () => {
    expect(init.calculateFanInAndFanOut(zeros([4, 3]))).toEqual([3, 4]);
    expect(init.calculateFanInAndFanOut(zeros([8, 2, 3, 5]))).toEqual([30, 120]);
  });
  it("need at least 2 dims", () => {
    expect(() => init.calculateFanInAndFanOut(zeros([5]))).toThrow(/fewer than 2 dims, got \[5\]/);
  });
});

describe("schemes", () => {
  const weight = () => zeros([200, 100], { dtype: "float64" });
  const cases: [string, (t: Tensor) => Tensor, { bound?: number; std: number; mean?: number }][] = [
    ["uniform_(−2, 3)", (t) => init.uniform_(t, -2, 3), { bound: 3, std: 5 / Math.sqrt(12), mean: 0.5 }],
    ["normal_(1, 0.5)", (t) => init.normal_(t, 1, 0.5), { std: 0.5, mean: 1 }],
    [
      "kaimingUniform_ (relu, fan in)",
      (t) => init.kaimingUniform_(t, { nonlinearity: "relu" }),
      { bound: Math.sqrt(6 / 100), std: Math.sqrt(2 / 100) },
    ],
    [
      "kaimingNormal_ (fan out)",
      (t) => init.kaimingNormal_(t, { mode: "fanOut", nonlinearity: "relu" }),
      { std: Math.sqrt(2 / 200) },
    ],
    ["xavierUniform_", (t) => init.xavierUniform_(t), { bound: Math.sqrt(6 / 300), std: Math.sqrt(2 / 300) }],
    ["xavierNormal_ (gain 2)", (t) => init.xavierNormal_(t, { gain: 2 }), { std: 2 * Math.sqrt(2 / 300) }],
  ];
  it.each(cases)(
    "%s draws within its bound, with the expected spread",
    (_, fill, { bound, std, mean = 0 }) => {
      const result = stats(fill(weight()));
      if (bound !== undefined) {
        expect(result.max).toBeLessThanOrEqual(bound);
        expect(result.min).toBeGreaterThanOrEqual(mean - (bound - mean));
      }
      expect(result.std / std).toBeGreaterThan(0.97);
      expect(result.std / std).toBeLessThan(1.03);
      expect(Math.abs(result.mean - mean)).toBeLessThan(0.03 * std + 1e-12);
    },
  );

  it("fill constants in place and return the same tensor", () => {
    const t = zeros([2, 2]);
    expect(init.constant_(t, 3)).toBe(t);
    expect(t.tolist()).toEqual([
      [3, 3],
      [3, 3],
    ]);
    expect(init.ones_(t).sum().item()).toBe(4);
    expect(init.zeros_(t).sum().item()).toBe(0);
  });

  it("work on parameters that require grad (without recording a graph)", () => {
    const parameter = new Parameter(zeros([3, 3]));
    init.kaimingUniform_(parameter);
    expect(parameter.requiresGrad).toBe(true);
    expect(parameter.isLeaf).toBe(true);
    expect(parameter.abs().sum().item()).toBeGreaterThan(0);
  });

  it("use the given generator, or the global one", () => {
    const a = init.normal_(zeros([5]), 0, 1, { generator: new Generator(3) }).tolist();
    expect(init.normal_(zeros([5]), 0, 1, { generator: new Generator(3) }).tolist()).toEqual(a);
    manualSeed(3);
    const b = init.uniform_(zeros([5])).tolist();
    manualSeed(3);
    expect(init.uniform_(zeros([5])).tolist()).toEqual(b);
  });

  it.each([
    ["uniform_ with low > high", () => init.uniform_(zeros([2]), 1, 0), /low 1 must not exceed high 0/],
    [
      "normal_ with a negative std",
      () => init.normal_(zeros([2]), 0, -1),
      /std must be non-negative, got -1/,
    ],
    ["kaiming on a 1-D tensor", () => init.kaimingUniform_(zeros([3])), /fewer than 2 dims/],
    [
      "kaiming with an unknown mode",
      () => init.kaimingNormal_(zeros([2, 2]), { mode: "fan_in" as "fanIn" }),
      /mode must be "fanIn" or "fanOut", got "fan_in"/,
    ],
  ])("refuses %s", (_, call, message) => {
    expect(call).toThrow(message);
  });
});

/** max |b| over `draws` re-draws of a layer's bias, and the bias values' std over all of them. */
function biasSpread(layer: Linear | Conv2d, draws: number): { maxAbs: number; std: number } {
  const generator = new Generator(21);
  const values: number[] = [];
  for (let draw = 0; draw < draws; draw++) {
    layer.resetParameters({ generator });
    values.push(...(layer.bias ?? zeros([0])).dataSync());
  }
  const { min, max, std } = stats(tensor(values, { dtype: "float64" }));
  return { maxAbs: Math.max(max, -min), std };
}

// U(±bound) reaches past 0.9·bound with probability 1 − 0.9ⁿ over n draws: n ≥ 200 here. A bound
// taken from the wrong fan (out, or in without the kernel or the groups) is off by 2× or more, so
// it fails one side or the other.
describe("bias initialization spans exactly ±1/√fanIn", () => {
  it.each([
    ["Linear(16, 400): in < out", () => new Linear(16, 400, { dtype: "float64" }), 16],
    ["Linear(400, 9): in > out", () => new Linear(400, 9, { dtype: "float64" }), 400],
  ] as const)("%s", (_, make, fanIn) => {
    const bound = 1 / Math.sqrt(fanIn);
    const { maxAbs, std } = biasSpread(make(), 40);
    expect(maxAbs).toBeLessThanOrEqual(bound);
    expect(maxAbs).toBeGreaterThan(0.9 * bound);
    expect(std / (bound / Math.sqrt(3))).toBeGreaterThan(0.9);
    expect(std / (bound / Math.sqrt(3))).toBeLessThan(1.1);
  });

  it.each([
    // fanIn = 2·3·2 = 12, fanOut = 32·3·2 = 192
    ["Conv2d(2, 32, [3, 2]): in < out", () => new Conv2d(2, 32, [3, 2], { dtype: "float64" }), 12],
    // fanIn = 36/4·1·5 = 45 (not 36·5 = 180, nor 36/4 = 9), fanOut = 8·5 = 40, out = 8
    [
      "Conv2d(36, 8, [1, 5], groups 4): in > out",
      () => new Conv2d(36, 8, [1, 5], { groups: 4, dtype: "float64" }),
      45,
    ],
    // fanIn = 3·4·4 = 48 against out = 6 and fanOut = 96
    ["Conv2d(3, 6, 4)", () => new Conv2d(3, 6, 4, { dtype: "float64" }), 48],
  ] as const)("%s", (_, make, fanIn) => {
    const bound = 1 / Math.sqrt(fanIn);
    const { maxAbs, std } = biasSpread(make(), 40);
    expect(maxAbs).toBeLessThanOrEqual(bound);
    expect(maxAbs).toBeGreaterThan(0.9 * bound);
    expect(std / (bound / Math.sqrt(3))).toBeGreaterThan(0.85);
    expect(std / (bound / Math.sqrt(3))).toBeLessThan(1.15);
  });
});

describe("layer defaults match PyTorch", () => {
  it("Linear: weight and bias U(±1/√inFeatures), seeded by the global generator", () => {
    manualSeed(0);
    const layer = new Linear(64, 128);
    const bound = 1 / Math.sqrt(64);
    const weight = stats(layer.weight);
    expect(weight.max).toBeLessThanOrEqual(bound);
    expect(weight.min).toBeGreaterThanOrEqual(-bound);
    expect(weight.std / (bound / Math.sqrt(3))).toBeCloseTo(1, 1);
    const bias = stats(layer.bias ?? zeros([1]));
    expect(Math.max(bias.max, -bias.min)).toBeLessThanOrEqual(bound);
    manualSeed(0);
    expect(new Linear(64, 128).weight.tolist()).toEqual(layer.weight.tolist());
  });

  it("Conv2d: U(±1/√fanIn) with fanIn = inChannels/groups·KH·KW", () => {
    manualSeed(1);
    const conv = new Conv2d(8, 16, 3, { groups: 2 });
    const bound = 1 / Math.sqrt(4 * 9);
    const weight = stats(conv.weight);
    expect(weight.max).toBeLessThanOrEqual(bound);
    expect(weight.max).toBeGreaterThan(0.9 * bound);
    expect(weight.min).toBeGreaterThanOrEqual(-bound);
    const bias = stats(conv.bias ?? zeros([1]));
    expect(Math.max(bias.max, -bias.min)).toBeLessThanOrEqual(bound);
  });
});
