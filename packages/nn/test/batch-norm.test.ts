// BatchNorm1d/2d/3d and F.batchNorm: every batch_norm fixture (K training steps, then eval) in float64 and float32, bookkeeping and errors.
import {
  fromValues,
  liveBuffers,
  noGrad,
  ones,
  randn,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "@normgrad/core";
import {
  checkNormFixture,
  copyAffineFromFixture,
  type Fixture,
  fixtureNames,
  fromFixture,
  loadFixture,
} from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { batchNorm, NonFiniteStatisticsError } from "../src/functional/batch-norm.ts";
import { type BatchNorm, BatchNorm1d, BatchNorm2d, BatchNorm3d } from "../src/layers/batch-norm.ts";
import { Sequential } from "../src/layers/container.ts";
import { Linear } from "../src/layers/linear.ts";
import { StateDict } from "../src/module.ts";
import { fromBytes, toBytes } from "../src/safetensors.ts";
import { type FloatDType, TOLERANCES } from "./norm-helpers.ts";

function buildModule(fixture: Fixture, dtype: FloatDType): BatchNorm {
  const { config } = fixture;
  const options = {
    eps: Number(config.eps),
    momentum: config.momentum === null ? null : Number(config.momentum),
    affine: config.affine === true,
    trackRunningStats: config.track_running_stats === true,
    dtype,
  };
  const channels = fixture.inputs.x_step0.shape[1];
  const bn =
    config.module === "BatchNorm2d" ? new BatchNorm2d(channels, options) : new BatchNorm1d(channels, options);
  copyAffineFromFixture(bn, fixture.params, dtype);
  return bn;
}

function expectBuffers(
  bn: BatchNorm,
  expected: Record<string, unknown>,
  dtype: FloatDType,
  step: string,
): void {
  const tolerance = TOLERANCES[dtype].stats;
  const pairs = [
    ["running_mean", bn.runningMean],
    ["running_var", bn.runningVar],
    ["num_batches_tracked", bn.numBatchesTracked],
  ] as const;
  for (const [key, buffer] of pairs) {
    const want = expected[key];
    if (want === null) {
      expect(buffer, `${key} after ${step}`).toBeNull();
      continue;
    }
    if (typeof want !== "object" || want === null || !("data" in want) || !Array.isArray(want.data)) {
      throw new Error(`fixture ${key} is malformed`);
    }
    expect(buffer, `${key} after ${step}`).toBeAllclose(want.data, tolerance);
  }
}

describe.each(fixtureNames("batch_norm_"))("%s", (name) => {
  const fixture = loadFixture(name);
  const steps = Number(fixture.config.steps);

  it.each<FloatDType>(["float64", "float32"])(
    "matches PyTorch in %s: K training steps, then eval",
    (dtype) => {
      const bn = buildModule(fixture, dtype);
      const tolerance = TOLERANCES[dtype].output;
      const { inputs, expected } = fixture;
      const history = expected.buffers_history ?? [];
      if (steps < 1) throw new Error("fixture has no steps");
      for (let k = 0; k < steps - 1; k++) {
        bn.forward(fromFixture(inputs[`x_step${k}`], dtype));
        expectBuffers(bn, history[k], dtype, `step ${k}`);
      }
      // The last step is the one backpropagated.
      const last = `x_step${steps - 1}`;
      const { weight, bias } = expected.grads;
      const training = {
        x: inputs[last],
        dy: inputs.dy,
        output: expected.output,
        grads: { x: expected.grads[last], weight, bias },
      };
      checkNormFixture(bn, training, { dtype, tolerance });
      expectBuffers(bn, history[steps - 1], dtype, `step ${steps - 1}`);
      expectBuffers(bn, expected.buffers, dtype, "training");

      const evaluation = expected.eval;
      if (evaluation === undefined) throw new Error("fixture has no eval pass");
      bn.eval();
      const evalGrads = evaluation.grads;
      const evalPass = {
        x: inputs.x_eval,
        dy: inputs.dy_eval,
        output: evaluation.output,
        grads: { x: evalGrads.x_eval, weight: evalGrads.weight, bias: evalGrads.bias },
      };
      checkNormFixture(bn, evalPass, { dtype, tolerance, label: "eval" });
      expectBuffers(bn, expected.buffers, dtype, "eval (unchanged)");
    },
  );
});

describe("BatchNorm running statistics", () => {
  it("are updated in place, under noGrad, keeping the same buffer tensors", () => {
    const bn = new BatchNorm1d(3);
    const [mean, variance] = [bn.runningMean, bn.runningVar];
    const versionBefore = mean?.version ?? -1;
    const x = randn([8, 3], { requiresGrad: true });
    bn.forward(x).sum().backward();
    expect(bn.runningMean).toBe(mean);
    expect(bn.runningVar).toBe(variance);
    expect(mean?.version).toBe(versionBefore + 1);
    expect(mean?.requiresGrad).toBe(false);
    expect(mean?.gradFn).toBeNull();
    expect(bn.numBatchesTracked?.dtype).toBe("int32");
    expect(bn.numBatchesTracked?.item()).toBe(1);
  });

  it("leave the live-buffer count unchanged after a training step inside tidy", () => {
    const bn = new BatchNorm2d(3);
    const x = randn([4, 3, 2, 2], { requiresGrad: true });
    const step = () =>
      tidy(() => {
        bn.zeroGrad();
        x.grad?.dispose();
        x.grad = null;
        bn.forward(x).square().sum().backward();
      });
    step();
    const before = liveBuffers();
    step();
    expect(liveBuffers()).toBe(before);
    expect(bn.numBatchesTracked?.item()).toBe(2);
  });

  it("are kept in float32 while the statistics accumulate in float64", () => {
    const bn = new BatchNorm1d(2, { momentum: 1 });
    const x = fromValues([1e4 + 0.01, 1, 1e4 - 0.01, 3], [2, 2], { dtype: "float32" });
    bn.forward(x);
    expect(bn.runningMean?.dtype).toBe("float32");
    // Unbiased variance of {1e4 ± 0.01} computed from float32 data: 2·(0.01)²·(rounding of the data).
    const data = x.dataSync();
    const spread = (data[0] - data[2]) / 2;
    expect(bn.runningVar, "running_var").toBeAllclose([2 * spread * spread, 2], { rtol: 1e-6, atol: 0 });
  });

  it("follow PyTorch's momentum: running = (1 − m)·running + m·batch (m = 0.1, not Keras' 0.99)", () => {
    const bn = new BatchNorm1d(1, { dtype: "float64" });
    bn.forward(tensor([[2], [4]], { dtype: "float64" }));
    // batch mean 3 and unbiased variance 2: 0.9·0 + 0.1·3 and 0.9·1 + 0.1·2.
    expect(bn.runningMean).toBeAllclose([0.3], { rtol: 1e-15, atol: 0 });
    expect(bn.runningVar).toBeAllclose([1.1], { rtol: 1e-15, atol: 0 });
  });

  it("with momentum null are the cumulative average of the batches", () => {
    const bn = new BatchNorm1d(1, { momentum: null, dtype: "float64" });
    for (const batch of [
      [0, 2],
      [4, 6],
      [8, 10],
    ]) {
      bn.forward(tensor([[batch[0]], [batch[1]]], { dtype: "float64" }));
    }
    expect(bn.runningMean).toBeAllclose([5], { rtol: 1e-15, atol: 0 });
    expect(bn.runningVar).toBeAllclose([2], { rtol: 1e-15, atol: 0 });
    expect(bn.numBatchesTracked?.item()).toBe(3);
  });

  it("are never poisoned: a non-finite batch statistic throws and leaves them unchanged", () => {
    const bn = new BatchNorm1d(3);
    bn.forward(randn([4, 3]));
    const before = [bn.runningMean?.dataSync(), bn.runningVar?.dataSync(), bn.numBatchesTracked?.item()];
    const x = tensor([
      [1, Number.NaN, 1],
      [2, 3, Number.POSITIVE_INFINITY],
    ]);
    expect(() => bn.forward(x)).toThrow(
      /batch statistics of channel\(s\) 1, 2 are not finite \(channel 1: mean NaN, variance NaN\), so the running statistics were left unchanged/,
    );
    expect([bn.runningMean?.dataSync(), bn.runningVar?.dataSync(), bn.numBatchesTracked?.item()]).toEqual(
      before,
    );
  });

  it.each([
    ["activations ×1e20", [1e20, 3e20, -2e20, 5e20], /variance 8\.9\d*e\+40/],
    ["a single 1e30", [1, 2, 1e30, 3], /variance 2\.5\d*e\+59/],
  ])("are never poisoned by float32 overflow: %s throws and leaves them unchanged", (_, column, variance) => {
    // Finite float32 inputs whose batch variance (in float64) is beyond float32's 3.4e38: stored
    // as float32 the running variance would become Infinity for good.
    const bn = new BatchNorm1d(2);
    const x = tensor(column.map((value, i) => [value, i]));
    const before = [bn.runningMean?.tolist(), bn.runningVar?.tolist(), bn.numBatchesTracked?.item()];
    expect(() => bn.forward(x)).toThrow(NonFiniteStatisticsError);
    expect(() => bn.forward(x)).toThrow(/running statistics of channel\(s\) 0 would overflow float32/);
    expect(() => bn.forward(x)).toThrow(variance);
    expect([bn.runningMean?.tolist(), bn.runningVar?.tolist(), bn.numBatchesTracked?.item()]).toEqual(before);
    // In float64 the same batch is representable and updates the statistics.
    const wide = new BatchNorm1d(2, { dtype: "float64" });
    wide.forward(x.to("float64"));
    const values = Array.from(x.dataSync()).filter((_, i) => i % 2 === 0);
    const mean = values.reduce((sum, value) => sum + value, 0) / 4;
    expect(wide.runningMean, "running_mean").toBeAllclose([0.1 * mean, 0.15], { rtol: 1e-12, atol: 0 });
  });

  it("reset: resetRunningStats() and resetParameters()", () => {
    const bn = new BatchNorm2d(2);
    noGrad(() => bn.weight?.fill_(3));
    bn.forward(randn([2, 2, 3, 3]));
    bn.resetRunningStats();
    expect(bn.runningMean?.tolist()).toEqual([0, 0]);
    expect(bn.runningVar?.tolist()).toEqual([1, 1]);
    expect(bn.numBatchesTracked?.item()).toBe(0);
    expect(bn.weight?.tolist()).toEqual([3, 3]);
    bn.resetParameters();
    expect(bn.weight?.tolist()).toEqual([1, 1]);
    expect(bn.bias?.tolist()).toEqual([0, 0]);
  });
});

describe("BatchNorm modes", () => {
  it("eval without running statistics normalizes with the batch statistics", () => {
    const bn = new BatchNorm1d(2, { trackRunningStats: false, dtype: "float64" }).eval();
    const y = bn.forward(
      tensor(
        [
          [1, 10],
          [3, 30],
        ],
        { dtype: "float64" },
      ),
    );
    expect(y).toBeAllclose([-1, -1, 1, 1], { rtol: 1e-4, atol: 0 });
  });

  it("eval with a batch of one uses the running statistics (no error)", () => {
    const bn = new BatchNorm1d(2, { dtype: "float64" }).eval();
    const y = bn.forward(tensor([[1, 2]], { dtype: "float64" }));
    expect(y).toBeAllclose([1 / Math.sqrt(1 + 1e-5), 2 / Math.sqrt(1 + 1e-5)], { rtol: 1e-15, atol: 0 });
  });

  it("BatchNorm3d normalizes (N, C, D, H, W) per channel", () => {
    const bn = new BatchNorm3d(2, { affine: false, dtype: "float64" });
    const x = randn([2, 2, 2, 2, 3], { dtype: "float64" });
    const y = bn.forward(x);
    const reference = x
      .sub(x.mean([0, 2, 3, 4], true))
      .div(x.var([0, 2, 3, 4], { correction: 0, keepdim: true }).add(1e-5).sqrt());
    expect(y).toBeAllclose(reference.dataSync(), { rtol: 1e-12, atol: 1e-12 });
  });
});

describe("BatchNorm state dict", () => {
  it("uses PyTorch's keys and a version-2 layout", () => {
    const state = new BatchNorm2d(4).stateDict();
    expect([...state.keys()]).toEqual([
      "weight",
      "bias",
      "running_mean",
      "running_var",
      "num_batches_tracked",
    ]);
    expect(state.versions.get("")).toBe(2);
    expect(state.get("num_batches_tracked")?.shape).toEqual([]);
    expect([...new BatchNorm1d(3, { affine: false, trackRunningStats: false }).stateDict().keys()]).toEqual(
      [],
    );
  });

  it("loads a version-1 state dict without num_batches_tracked, starting the count at 0", () => {
    const bn = new BatchNorm1d(2);
    bn.forward(randn([3, 2]));
    const old = new StateDict([
      ["weight", ones([2])],
      ["bias", zeros([2])],
      ["running_mean", tensor([0.5, -0.5])],
      ["running_var", tensor([2, 3])],
    ]);
    old.versions.set("", 1);
    bn.loadStateDict(old);
    expect(bn.numBatchesTracked?.item()).toBe(0);
    expect(bn.runningMean?.tolist()).toEqual([0.5, -0.5]);
  });
});

describe("BatchNorm state dict without a version", () => {
  const entries = (): [string, Tensor][] => [
    ["weight", ones([2])],
    ["bias", zeros([2])],
    ["running_mean", tensor([0.5, -0.5])],
    ["running_var", tensor([2, 3])],
  ];
  // PyTorch's _BatchNorm._load_from_state_dict: version None (no _metadata: a plain dict, a
  // safetensors file written by PyTorch) and no num_batches_tracked → num_batches_tracked = 0.
  it.each([
    ["a Map", () => new Map(entries())],
    ["a record", () => Object.fromEntries(entries())],
    ["a StateDict without versions", () => new StateDict(entries())],
    ["a safetensors file without normgrad.versions", () => fromBytes(toBytes(new Map(entries())))],
  ])("loads strictly from %s, starting the count at 0", (_, state) => {
    const bn = new BatchNorm1d(2);
    bn.forward(randn([3, 2]));
    expect(bn.loadStateDict(state())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(bn.numBatchesTracked?.item()).toBe(0);
    expect(bn.runningVar?.tolist()).toEqual([2, 3]);
  });

  it("still refuses a version-2 state dict that lacks num_batches_tracked", () => {
    const state = new StateDict(entries());
    state.versions.set("", 2);
    expect(() => new BatchNorm1d(2).loadStateDict(state)).toThrow(/missing key\(s\): num_batches_tracked/);
  });

  it("fills each nested BatchNorm by its prefix", () => {
    const model = new Sequential(new Linear(2, 2), new BatchNorm1d(2));
    const state = new Map(model.stateDict());
    state.delete("1.num_batches_tracked");
    model.loadStateDict(state);
    expect(model.stateDict().get("1.num_batches_tracked")?.item()).toBe(0);
  });
});

describe("BatchNorm errors", () => {
  it.each([
    [
      "BatchNorm1d",
      () => new BatchNorm1d(3).forward(randn([2, 3, 4, 5])),
      "BatchNorm1d expects a 2-D (N, C) or 3-D (N, C, L) input, got shape [2, 3, 4, 5]",
    ],
    [
      "BatchNorm2d",
      () => new BatchNorm2d(3).forward(randn([2, 3])),
      "BatchNorm2d expects a 4-D (N, C, H, W) input, got shape [2, 3]",
    ],
    [
      "BatchNorm3d",
      () => new BatchNorm3d(3).forward(randn([2, 3, 4, 4])),
      "BatchNorm3d expects a 5-D (N, C, D, H, W) input, got shape [2, 3, 4, 4]",
    ],
    [
      "channels",
      () => new BatchNorm2d(64).forward(randn([2, 32, 3, 3])),
      "BatchNorm2d(64) expects 64 channels at dim 1, got input of shape [2, 32, 3, 3]",
    ],
    [
      "int input",
      () => new BatchNorm1d(2).forward(zeros([2, 2], { dtype: "int32" })),
      "BatchNorm1d input must be float32 or float64, got int32",
    ],
  ])("checks the input: %s", (_, run, message) => {
    expect(run).toThrow(message);
  });

  it("refuses one value per channel in training, naming the shape and the ways out", () => {
    const bn = new BatchNorm1d(64);
    expect(() => bn.forward(randn([1, 64]))).toThrow(
      "batchNorm: expected more than 1 value per channel when training, got input of shape [1, 64]: use batches of " +
        "at least 2 (dropLast: true in the DataLoader drops a last batch of 1), call eval() for inference, or use " +
        "GroupNorm or LayerNorm, which normalize each sample on its own",
    );
    expect(bn.numBatchesTracked?.item()).toBe(0);
  });

  it.each([
    ["numFeatures 0", () => new BatchNorm1d(0), "BatchNorm1d numFeatures must be a positive integer, got 0"],
    ["momentum 1.5", () => new BatchNorm2d(3, { momentum: 1.5 }), "BatchNorm2d: momentum must be in [0, 1]"],
    ["momentum 0.99 is accepted (it is just slow)", () => new BatchNorm2d(3, { momentum: 0.99 }), null],
    ["eps −1", () => new BatchNorm1d(3, { eps: -1 }), "BatchNorm1d: eps must be a finite number ≥ 0, got -1"],
  ])("validates the construction: %s", (_, build, message) => {
    if (message === null) expect(build).not.toThrow();
    else expect(build).toThrow(message);
  });

  it.each([
    [
      "eval without running statistics",
      () => batchNorm(randn([2, 3]), null, null),
      "batchNorm with training: false normalizes with the running statistics",
    ],
    [
      "one running statistic",
      () => batchNorm(randn([2, 3]), zeros([3]), null, { training: true }),
      "batchNorm: pass both runningMean and runningVar, or neither",
    ],
    [
      "a running mean of the wrong size",
      () => batchNorm(randn([2, 3]), zeros([4]), ones([4])),
      "batchNorm: runningMean must have shape [3] (one value per channel), got [4]",
    ],
    [
      "a weight of the wrong size",
      () => batchNorm(randn([2, 3]), null, null, { weight: ones([2]), training: true }),
      "batchNorm: weight must have shape [3] (one value per channel), got [2]",
    ],
    [
      "a 1-D input",
      () => batchNorm(randn([3]), null, null, { training: true }),
      "batchNorm expects an input of shape (N, C, *), got shape [3]",
    ],
    [
      "a float64 weight on float32 input",
      () => batchNorm(randn([2, 3]), null, null, { weight: ones([3], { dtype: "float64" }), training: true }),
      "weight is float64 on cpu but the input is float32 on cpu",
    ],
  ])("F.batchNorm rejects %s", (_, run, message) => {
    expect(run).toThrow(message);
  });
});

describe("BatchNorm repr", () => {
  it.each([
    [
      new BatchNorm1d(100),
      "BatchNorm1d(100, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
    ],
    [
      new BatchNorm2d(64, { eps: 1e-3, momentum: null, affine: false }),
      "BatchNorm2d(64, eps=0.001, momentum=None, affine=False, track_running_stats=True)",
    ],
    [
      new BatchNorm1d(10, { trackRunningStats: false }),
      "BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=True, track_running_stats=False)",
    ],
    [new BatchNorm3d(8), "BatchNorm3d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"],
  ])("%s", (module, expected) => {
    expect(module.toString()).toBe(expected);
  });
});
