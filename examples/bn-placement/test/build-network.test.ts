// The study's networks: layer order per placement, no bias before a norm, output shapes, and folding across ReLU.
import { Generator, noGrad, randn } from "@normgrad/core";
import { Linear } from "@normgrad/nn";
import { describe, expect, it } from "vitest";
import { buildNetwork } from "../src/build-network.ts";
import { foldAcrossRelu } from "../src/fold-networks.ts";
import {
  MODEL_KINDS,
  type ModelKind,
  NORM_KINDS,
  type NormKind,
  VARIANTS,
  type Variant,
} from "../src/study-config.ts";

const layersOf = (model: ModelKind, variant: Variant, norm: NormKind = "batch") =>
  [...buildNetwork({ model, variant, norm, generator: new Generator(0) })].map((module) => module.typeName);

describe("buildNetwork", () => {
  it("builds the MLP deeper and with sigmoids when asked (the docs' BatchNorm lab)", () => {
    const network = buildNetwork({
      model: "mlp",
      variant: "relu-bn",
      generator: new Generator(0),
      activation: "sigmoid",
      mlpDepth: 3,
    });
    expect([...network].map((module) => module.typeName)).toEqual([
      "Flatten",
      ...["Linear", "Sigmoid", "BatchNorm1d"],
      ...["Linear", "Sigmoid", "BatchNorm1d"],
      ...["Linear", "Sigmoid", "BatchNorm1d"],
      "Linear",
    ]);
    expect(noGrad(() => network.forward(randn([4, 1, 28, 28]))).shape).toEqual([4, 10]);
    expect(() =>
      buildNetwork({ model: "mlp", variant: "none", generator: new Generator(0), mlpDepth: 0 }),
    ).toThrow("mlpDepth must be an integer ≥ 1, got 0");
  });

  it.each([
    ["mlp", "none", ["Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear"]],
    [
      "mlp",
      "bn-relu",
      ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear"],
    ],
    [
      "mlp",
      "relu-bn",
      ["Flatten", "Linear", "ReLU", "BatchNorm1d", "Linear", "ReLU", "BatchNorm1d", "Linear"],
    ],
    ["cnn", "none", ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]],
    [
      "cnn",
      "bn-relu",
      [
        "Conv2d",
        "BatchNorm2d",
        "ReLU",
        "MaxPool2d",
        "Conv2d",
        "BatchNorm2d",
        "ReLU",
        "MaxPool2d",
        "Flatten",
        "Linear",
      ],
    ],
    [
      "cnn",
      "relu-bn",
      [
        "Conv2d",
        "ReLU",
        "BatchNorm2d",
        "MaxPool2d",
        "Conv2d",
        "ReLU",
        "BatchNorm2d",
        "MaxPool2d",
        "Flatten",
        "Linear",
      ],
    ],
  ] as const)("%s %s has the layers %j", (model, variant, layers) => {
    expect(layersOf(model, variant)).toEqual(layers);
  });

  it.each([
    ["group", "GroupNorm"],
    ["layer", "LayerNorm"],
  ] as const)("puts %s norm where BatchNorm was", (norm, name) => {
    expect(layersOf("mlp", "bn-relu", norm)[2]).toBe(name);
    expect(layersOf("cnn", "bn-relu", norm)[1]).toBe(name);
  });

  it("drops the bias only where a norm follows the layer directly", () => {
    const biases = (variant: Variant) =>
      [...buildNetwork({ model: "mlp", variant, generator: new Generator(0) })]
        .filter((module) => module instanceof Linear)
        .map((module) => module instanceof Linear && module.bias !== null);
    expect(biases("none")).toEqual([true, true, true]);
    expect(biases("bn-relu")).toEqual([false, false, true]);
    expect(biases("relu-bn")).toEqual([true, true, true]);
  });

  const cases = MODEL_KINDS.flatMap((model) =>
    VARIANTS.flatMap((variant) => NORM_KINDS.map((norm) => [model, variant, norm] as const)),
  );
  it.each(cases)("%s %s (%s) maps (2, 1, 28, 28) images to (2, 10) logits", (model, variant, norm) => {
    const network = buildNetwork({ model, variant, norm, generator: new Generator(1) });
    expect(network.forward(randn([2, 1, 28, 28])).shape).toEqual([2, 10]);
  });

  it("draws the same weights from the same seed", () => {
    const weights = (seed: number) =>
      [
        ...buildNetwork({ model: "mlp", variant: "none", generator: new Generator(seed) }).parameters(),
      ][0].dataSync();
    expect(weights(3)).toEqual(weights(3));
    expect(weights(3)).not.toEqual(weights(4));
  });
});

describe("foldAcrossRelu", () => {
  it("folds each relu-bn BatchNorm into the layer before its ReLU, which changes the function", () => {
    const network = buildNetwork({ model: "mlp", variant: "relu-bn", generator: new Generator(2) });
    const x = randn([8, 1, 28, 28], { generator: new Generator(3) });
    network.train();
    noGrad(() => network.forward(x)); // running statistics that differ from the identity
    network.eval();
    const moved = foldAcrossRelu(network);
    expect([...moved].map((module) => module.typeName)).toEqual([
      "Flatten",
      "Linear",
      "ReLU",
      "Linear",
      "ReLU",
      "Linear",
    ]);
    const gap = noGrad(() => moved.forward(x).sub(network.forward(x)).abs().max().item());
    expect(gap).toBeGreaterThan(1e-3);
  });
});
