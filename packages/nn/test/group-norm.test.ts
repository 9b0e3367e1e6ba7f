// GroupNorm and F.groupNorm: every group_norm fixture in float64 and float32, construction checks, batch independence.
import { randn } from "@normgrad/core";
import { checkNormFixture, copyAffineFromFixture, fixtureNames, loadFixture } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { groupNorm } from "../src/functional/group-norm.ts";
import { GroupNorm } from "../src/layers/group-norm.ts";
import { LayerNorm } from "../src/layers/layer-norm.ts";
import { type FloatDType, TOLERANCES } from "./norm-helpers.ts";

describe.each(fixtureNames("group_norm_"))("%s", (name) => {
  const fixture = loadFixture(name);

  it.each<FloatDType>(["float64", "float32"])("matches PyTorch in %s (output and grads)", (dtype) => {
    const { config, params, expected, inputs } = fixture;
    const norm = new GroupNorm(Number(config.num_groups), inputs.x.shape[1], {
      eps: Number(config.eps),
      affine: config.affine === true,
      dtype,
    });
    copyAffineFromFixture(norm, params, dtype);
    const pass = { x: inputs.x, dy: inputs.dy, output: expected.output, grads: expected.grads };
    checkNormFixture(norm, pass, { dtype, tolerance: TOLERANCES[dtype].output });
  });
});

describe("GroupNorm", () => {
  it("works on a batch of one and gives each sample the same result alone or in a batch", () => {
    const norm = new GroupNorm(2, 4, { dtype: "float64" });
    const x = randn([3, 4, 5], { dtype: "float64" });
    const batched = norm.forward(x);
    const alone = norm.forward(x.narrow(0, 1, 1));
    expect(alone).toBeAllclose(batched.narrow(0, 1, 1).dataSync(), { rtol: 0, atol: 1e-15 });
  });

  it("with one group equals LayerNorm over (C, *) with a per-channel affine", () => {
    const x = randn([2, 3, 4], { dtype: "float64" });
    const grouped = new GroupNorm(1, 3, { affine: false, dtype: "float64" }).forward(x);
    const layer = new LayerNorm([3, 4], { elementwiseAffine: false, dtype: "float64" }).forward(x);
    expect(grouped).toBeAllclose(layer.dataSync(), { rtol: 0, atol: 1e-14 });
  });

  it("prints as PyTorch", () => {
    expect(new GroupNorm(4, 32).toString()).toBe("GroupNorm(4, 32, eps=1e-05, affine=True)");
    expect(new GroupNorm(2, 4, { affine: false, eps: 1e-3 }).toString()).toBe(
      "GroupNorm(2, 4, eps=0.001, affine=False)",
    );
  });

  it.each([
    [
      "numChannels % numGroups ≠ 0",
      () => new GroupNorm(4, 6),
      "GroupNorm: numChannels (6) must be divisible by numGroups (4)",
    ],
    [
      "numGroups 0",
      () => new GroupNorm(0, 6),
      "GroupNorm: numChannels (6) must be divisible by numGroups (0)",
    ],
    [
      "numGroups −2",
      () => new GroupNorm(-2, 6),
      "GroupNorm: numChannels (6) must be divisible by numGroups (-2)",
    ],
    ["numChannels 0", () => new GroupNorm(1, 0), "GroupNorm numChannels must be a positive integer, got 0"],
  ])("rejects %s at construction, naming both numbers", (_, build, message) => {
    expect(build).toThrow(message);
  });

  it.each([
    [
      "channels",
      () => new GroupNorm(2, 4).forward(randn([2, 6, 3])),
      "GroupNorm(2, 4) expects an (N, 4, *) input, got shape [2, 6, 3]",
    ],
    [
      "F.groupNorm groups",
      () => groupNorm(randn([2, 6, 3]), 4),
      "groupNorm on an input of shape [2, 6, 3]: numChannels (6) must be divisible by numGroups (4)",
    ],
    [
      "F.groupNorm rank",
      () => groupNorm(randn([6]), 2),
      "groupNorm expects an input of shape (N, C, *), got shape [6]",
    ],
  ])("checks the input: %s", (_, run, message) => {
    expect(run).toThrow(message);
  });
});
