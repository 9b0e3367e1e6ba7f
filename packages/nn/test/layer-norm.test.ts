// LayerNorm and F.layerNorm: every layer_norm fixture (and the odd-row-count ones) in float64 and float32, the shape checks and the options.
import { noGrad, randn, type Tensor } from "@normgrad/core";
import {
  checkNormFixture,
  copyAffineFromFixture,
  type Fixture,
  fixtureNames,
  loadFixture,
} from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { layerNorm } from "../src/functional/layer-norm.ts";
import { LayerNorm } from "../src/layers/layer-norm.ts";
import { loadLocalFixtures } from "./local-fixtures.ts";
import { type FloatDType, TOLERANCES } from "./norm-helpers.ts";

function toShape(value: unknown): number | number[] {
  if (typeof value === "number") return value;
  if (Array.isArray(value) && value.every((dim) => typeof dim === "number")) return value;
  throw new Error(`not a shape: ${JSON.stringify(value)}`);
}

/** A LayerNorm built from the fixture's config, checked in train and eval mode (the same for LayerNorm). */
function checkLayerNormFixture(fixture: Fixture, dtype: FloatDType): void {
  const { config, params, inputs, expected } = fixture;
  const norm = new LayerNorm(toShape(config.normalized_shape), {
    eps: Number(config.eps),
    elementwiseAffine: config.elementwise_affine === true,
    dtype,
  });
  copyAffineFromFixture(norm, params, dtype);
  for (const mode of ["train", "eval"] as const) {
    norm.train(mode === "train");
    const pass = { x: inputs.x, dy: inputs.dy, output: expected.output, grads: expected.grads };
    checkNormFixture(norm, pass, { dtype, tolerance: TOLERANCES[dtype].output, label: mode });
  }
}

describe.each(fixtureNames("layer_norm_"))("%s", (name) => {
  it.each<FloatDType>(["float64", "float32"])("matches PyTorch in %s (output and grads)", (dtype) => {
    checkLayerNormFixture(loadFixture(name), dtype);
  });
});

// The CPU kernels take LayerNorm rows in pairs; an odd last row (3 rows, 1 row) goes alone.
describe.each(loadLocalFixtures("layer-norm-odd-rows.json"))("odd row count: $name", (fixture) => {
  it("has 1 or 3 rows", () => {
    const normalized = [toShape(fixture.config.normalized_shape)].flat();
    const rows = fixture.inputs.x.data.length / normalized.reduce((size, dim) => size * dim, 1);
    expect([1, 3]).toContain(rows);
  });

  it.each<FloatDType>(["float64", "float32"])("matches PyTorch in %s (output and grads)", (dtype) => {
    checkLayerNormFixture(fixture, dtype);
  });
});

describe("LayerNorm options", () => {
  it("bias: false keeps a weight but no bias", () => {
    const norm = new LayerNorm([3], { bias: false });
    expect(norm.weight?.shape).toEqual([3]);
    expect(norm.bias).toBeNull();
    expect([...norm.stateDict().keys()]).toEqual(["weight"]);
    const x = randn([2, 3], { dtype: "float32" });
    expect(norm.forward(x)).toBeAllclose(layerNorm(x, 3).dataSync(), { rtol: 0, atol: 1e-6 });
  });

  it("resetParameters() sets γ to 1 and β to 0", () => {
    const norm = new LayerNorm(2);
    noGrad(() => {
      norm.weight?.fill_(2);
      norm.bias?.fill_(3);
    });
    norm.resetParameters();
    expect([norm.weight?.tolist(), norm.bias?.tolist()]).toEqual([
      [1, 1],
      [0, 0],
    ]);
  });

  it("normalizes each row of a (64, 256) input to mean 0 and variance 1", () => {
    const x = randn([64, 256], { dtype: "float64" }).mul(3).add(5);
    const y: Tensor = new LayerNorm(256, { dtype: "float64" }).forward(x);
    const rows = y.mean(-1).dataSync();
    const variances = y.var(-1, { correction: 0 }).dataSync();
    expect(Math.max(...rows.map(Math.abs))).toBeLessThan(1e-12);
    expect(Math.max(...variances.map((v) => Math.abs(v - 1)))).toBeLessThan(1e-5);
  });
});

describe("LayerNorm errors", () => {
  it.each([
    [
      "trailing dims",
      () => new LayerNorm([4, 5]).forward(randn([2, 3, 4, 6])),
      "layerNorm: normalizedShape [4, 5] does not match the last 2 dim(s) of the input of shape [2, 3, 4, 6]",
    ],
    [
      "too few dims",
      () => layerNorm(randn([5]), [2, 5]),
      "layerNorm: normalizedShape [2, 5] does not match the last 2 dim(s) of the input of shape [5]",
    ],
    [
      "weight shape",
      () => layerNorm(randn([2, 5]), 5, { weight: randn([4]) }),
      "layerNorm: weight must have shape normalizedShape [5], got [4]",
    ],
    [
      "an empty normalizedShape",
      () => new LayerNorm([]),
      "LayerNorm: normalizedShape must name at least one dim",
    ],
    [
      "a zero size",
      () => new LayerNorm([3, 0]),
      "LayerNorm normalizedShape [3, 0]: each size must be a positive integer, got 0",
    ],
  ])("%s", (_, run, message) => {
    expect(run).toThrow(message);
  });
});
