// BatchNorm folding: fuseConvBn/fuseLinearBn against the fold_* fixtures, forward folding into a Linear, fuseModel's decisions.
import { noGrad, randn, type Tensor } from "@normgrad/core";
import { type Fixture, fixtureNames, fromFixture, loadFixture } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { fuseBnLinear, fuseConvBn, fuseLinearBn, fuseModel } from "../src/fusion.ts";
import { ReLU } from "../src/layers/activation.ts";
import { BatchNorm1d, BatchNorm2d } from "../src/layers/batch-norm.ts";
import { Sequential } from "../src/layers/container.ts";
import { Conv2d } from "../src/layers/conv2d.ts";
import { Linear } from "../src/layers/linear.ts";
import { type FloatDType, TOLERANCES } from "./norm-helpers.ts";

/** Loads a fixture's bn.* parameters and running statistics into `bn` and puts it in eval mode. */
function loadBn(bn: BatchNorm1d | BatchNorm2d, fixture: Fixture, dtype: FloatDType): void {
  const { params } = fixture;
  noGrad(() => {
    bn.weight?.copy_(fromFixture(params["bn.weight"], dtype));
    bn.bias?.copy_(fromFixture(params["bn.bias"], dtype));
    bn.runningMean?.copy_(fromFixture(params["bn.running_mean"], dtype));
    bn.runningVar?.copy_(fromFixture(params["bn.running_var"], dtype));
  });
  bn.eval();
}

function pair(value: unknown): number | [number, number] {
  if (typeof value === "number") return value;
  if (Array.isArray(value) && value.length === 2) return [Number(value[0]), Number(value[1])];
  throw new Error(`not an int pair: ${JSON.stringify(value)}`);
}

describe.each(fixtureNames("fold_conv_bn"))("%s", (name) => {
  const fixture = loadFixture(name);

  it.each<FloatDType>(["float64", "float32"])(
    "fuseConvBn matches torch's fuse_conv_bn_eval in %s",
    (dtype) => {
      const { config, params, inputs, expected } = fixture;
      const weight = params["conv.weight"];
      const conv = new Conv2d(inputs.x.shape[1], Number(config.out_channels), pair(config.kernel_size), {
        stride: pair(config.stride),
        padding: pair(config.padding),
        groups: Number(config.groups),
        bias: config.conv_bias === true,
        dtype,
      }).eval();
      noGrad(() => {
        conv.weight.copy_(fromFixture(weight, dtype));
        if (conv.bias !== null) conv.bias.copy_(fromFixture(params["conv.bias"], dtype));
      });
      const bn = new BatchNorm2d(Number(config.out_channels), {
        eps: Number(config.bn_eps),
        affine: config.bn_affine === true,
        dtype,
      });
      loadBn(bn, fixture, dtype);
      const weightBefore = conv.weight.dataSync();
      const fused = fuseConvBn(conv, bn);
      const tolerance = TOLERANCES[dtype].output;
      const x = fromFixture(inputs.x, dtype);
      expect(bn.forward(conv.forward(x)), "unfused output").toBeAllclose(expected.output, tolerance);
      expect(fused.weight, "fused weight").toBeAllclose(expected.fused?.weight ?? [], tolerance);
      expect(fused.bias, "fused bias").toBeAllclose(expected.fused?.bias ?? [], tolerance);
      expect(fused.forward(x), "fused output").toBeAllclose(expected.fused?.output ?? [], tolerance);
      expect(conv.weight.dataSync()).toEqual(weightBefore);
      expect([fused.training, fused.stride, fused.groups]).toEqual([false, conv.stride, conv.groups]);
    },
  );
});

describe.each(fixtureNames("fold_linear_bn"))("%s", (name) => {
  const fixture = loadFixture(name);

  it.each<FloatDType>(["float64", "float32"])(
    "fuseLinearBn matches torch's fuse_linear_bn_eval in %s",
    (dtype) => {
      const { config, params, inputs, expected } = fixture;
      const linear = new Linear(inputs.x.shape[1], Number(config.out_features), {
        bias: config.linear_bias === true,
        dtype,
      }).eval();
      noGrad(() => {
        linear.weight.copy_(fromFixture(params["linear.weight"], dtype));
        if (linear.bias !== null) linear.bias.copy_(fromFixture(params["linear.bias"], dtype));
      });
      const bn = new BatchNorm1d(Number(config.out_features), { eps: Number(config.bn_eps), dtype });
      loadBn(bn, fixture, dtype);
      const fused = fuseLinearBn(linear, bn);
      const tolerance = TOLERANCES[dtype].output;
      const x = fromFixture(inputs.x, dtype);
      expect(bn.forward(linear.forward(x)), "unfused output").toBeAllclose(expected.output, tolerance);
      expect(fused.weight, "fused weight").toBeAllclose(expected.fused?.weight ?? [], tolerance);
      expect(fused.bias, "fused bias").toBeAllclose(expected.fused?.bias ?? [], tolerance);
      expect(fused.forward(x), "fused output").toBeAllclose(expected.fused?.output ?? [], tolerance);
    },
  );
});

/** A BatchNorm in eval mode with non-trivial running statistics and affine parameters. */
function trainedBn<B extends BatchNorm1d | BatchNorm2d>(bn: B, seed: number): B {
  noGrad(() => {
    bn.runningMean?.copy_(randn(bn.runningMean.shape, { dtype: "float64" }).mul(0.5));
    bn.runningVar?.copy_(randn(bn.runningVar.shape, { dtype: "float64" }).square().add(0.5));
    bn.weight?.copy_(randn(bn.weight.shape, { dtype: "float64" }).add(1));
    bn.bias?.copy_(randn(bn.bias.shape, { dtype: "float64" }).mul(seed));
  });
  bn.eval();
  return bn;
}

function outputsAgree(a: Tensor, b: Tensor): void {
  expect(a).toBeAllclose(b.dataSync(), { rtol: 1e-12, atol: 1e-12 });
}

describe("folding a BatchNorm1d forward into the next Linear", () => {
  it("is exact: bn then linear equals the fused Linear", () => {
    const bn = trainedBn(new BatchNorm1d(5, { dtype: "float64" }), 1);
    const linear = new Linear(5, 3, { dtype: "float64" }).eval();
    const x = randn([4, 5], { dtype: "float64" });
    outputsAgree(fuseBnLinear(bn, linear).forward(x), linear.forward(bn.forward(x)));
  });
});

describe("folding float32 layers on the CPU", () => {
  it("computes in float64 and rounds once: the float64 fold rounded to float32", () => {
    const conv = new Conv2d(3, 4, 3, { dtype: "float32" }).eval();
    const bn = trainedBn(new BatchNorm2d(4, { dtype: "float32" }), 1);
    const fused32 = fuseConvBn(conv, bn);
    // The same float32 values, widened in place: their float64 fold is the reference.
    const fused64 = fuseConvBn(conv.to("float64"), bn.to("float64"));
    expect(fused32.weight.dataSync()).toEqual(Float32Array.from(fused64.weight.dataSync()));
    expect(fused32.bias?.dataSync()).toEqual(Float32Array.from(fused64.bias?.dataSync() ?? []));
  });
});

describe("fuseModel", () => {
  const x2d = randn([4, 6], { dtype: "float64" });
  const x4d = randn([2, 3, 6, 6], { dtype: "float64" });

  it("folds Linear → BatchNorm1d and Conv2d → BatchNorm2d pairs, keeping everything else", () => {
    const model = new Sequential(
      new Linear(6, 5, { dtype: "float64" }),
      trainedBn(new BatchNorm1d(5, { dtype: "float64" }), 1),
      new ReLU(),
      new Linear(5, 2, { dtype: "float64" }),
    ).eval();
    const { model: fused, notes } = fuseModel(model);
    expect([...fused].map((module) => module.typeName)).toEqual(["Linear", "ReLU", "Linear"]);
    expect(notes).toEqual([
      { modules: ["0", "1"], action: "folded", reason: "BatchNorm1d folded into the Linear before it" },
    ]);
    outputsAgree(fused.forward(x2d), model.forward(x2d));
    expect(model.length).toBe(4);
  });

  it("folds a ReLU-separated BatchNorm1d forward into the Linear after it", () => {
    const model = new Sequential(
      new Linear(6, 5, { dtype: "float64" }),
      new ReLU(),
      trainedBn(new BatchNorm1d(5, { dtype: "float64" }), 2),
      new Linear(5, 2, { dtype: "float64" }),
    ).eval();
    const { model: fused, notes } = fuseModel(model);
    expect([...fused].map((module) => module.typeName)).toEqual(["Linear", "ReLU", "Linear"]);
    expect(notes[0]).toMatchObject({ modules: ["2", "3"], action: "folded" });
    outputsAgree(fused.forward(x2d), model.forward(x2d));
  });

  it("leaves a ReLU-separated BatchNorm2d before a padded Conv2d unfused and says why", () => {
    const model = new Sequential(
      new Conv2d(3, 4, 3, { padding: 1, dtype: "float64" }),
      trainedBn(new BatchNorm2d(4, { dtype: "float64" }), 1),
      new ReLU(),
      trainedBn(new BatchNorm2d(4, { dtype: "float64" }), 2),
      new Conv2d(4, 2, 3, { padding: 1, dtype: "float64" }),
    ).eval();
    const { model: fused, notes } = fuseModel(model);
    expect([...fused].map((module) => module.typeName)).toEqual(["Conv2d", "ReLU", "BatchNorm2d", "Conv2d"]);
    expect(notes[1]).toEqual({
      modules: ["3"],
      action: "kept",
      reason:
        "BatchNorm2d at 3 follows ReLU at 2, not a layer it can fold into (only a Linear or Conv2d directly " +
        "before it; a ReLU between them is not linear), and folding it forward into the Conv2d at 4 would not " +
        "be exact (that conv's zero padding would have to pad with the BatchNorm's shift instead)",
    });
    outputsAgree(fused.forward(x4d), model.forward(x4d));
  });

  it("recurses into nested Sequentials, naming modules by their path", () => {
    const inner = new Sequential(
      new Linear(6, 5, { dtype: "float64" }),
      trainedBn(new BatchNorm1d(5, { dtype: "float64" }), 1),
    );
    const { notes } = fuseModel(new Sequential(inner, new ReLU()).eval());
    expect(notes.map((note) => note.modules)).toEqual([["0.0", "0.1"]]);
  });
});

describe("fusion errors", () => {
  const linear = () => new Linear(4, 3).eval();

  it.each([
    [
      "a BatchNorm in training mode",
      () => fuseLinearBn(linear(), new BatchNorm1d(3)),
      "fuseLinearBn: fusion is for inference only, and BatchNorm1d is in training mode: call eval() first",
    ],
    [
      "a Linear in training mode",
      () => fuseLinearBn(new Linear(4, 3), new BatchNorm1d(3).eval()),
      "fuseLinearBn: fusion is for inference only, and Linear is in training mode: call eval() first",
    ],
    [
      "a BatchNorm without running statistics",
      () => fuseLinearBn(linear(), new BatchNorm1d(3, { trackRunningStats: false }).eval()),
      "fuseLinearBn: BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=False) has no running statistics (trackRunningStats: false)",
    ],
    [
      "mismatched channels",
      () => fuseConvBn(new Conv2d(3, 4, 3).eval(), new BatchNorm2d(5).eval()),
      "fuseConvBn: the Conv2d(3, 4) has 4 output channels but BatchNorm2d(5,",
    ],
    [
      "a model in training mode",
      () => fuseModel(new Sequential(new Linear(4, 3), new BatchNorm1d(3))),
      "fuseLinearBn: fusion is for inference only",
    ],
  ])("refuses %s", (_, run, message) => {
    expect(run).toThrow(message);
  });
});
