// InstanceNorm1d/2d and F.instanceNorm: the instance_norm fixtures in float64 and float32, running statistics (by hand and against PyTorch), unbatched input.
import { randn, tensor } from "@normgrad/core";
import {
  checkNormFixture,
  copyAffineFromFixture,
  fixtureNames,
  fromFixture,
  loadFixture,
} from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { instanceNorm } from "../src/functional/instance-norm.ts";
import { InstanceNorm1d, InstanceNorm2d } from "../src/layers/instance-norm.ts";
import { loadLocalFixtures } from "./local-fixtures.ts";
import { type FloatDType, TOLERANCES } from "./norm-helpers.ts";

describe.each(fixtureNames("instance_norm"))("%s", (name) => {
  const fixture = loadFixture(name);

  it.each<FloatDType>(["float64", "float32"])("matches PyTorch in %s, in train and eval mode", (dtype) => {
    const { config, params, expected, inputs } = fixture;
    const norm = new InstanceNorm2d(inputs.x.shape[1], {
      eps: Number(config.eps),
      affine: config.affine === true,
      dtype,
    });
    copyAffineFromFixture(norm, params, dtype);
    for (const mode of ["train", "eval"] as const) {
      norm.train(mode === "train");
      const pass = { x: inputs.x, dy: inputs.dy, output: expected.output, grads: expected.grads };
      checkNormFixture(norm, pass, { dtype, tolerance: TOLERANCES[dtype].output, label: mode });
    }
  });
});

// A second check of the running statistics: PyTorch's buffers after each of 3 training steps, then one eval pass with them.
describe.each(loadLocalFixtures("instance-norm-running-stats.json"))(
  "running statistics: $name",
  (fixture) => {
    it.each<FloatDType>(["float64", "float32"])(
      "follow PyTorch step by step, and eval uses them (%s)",
      (dtype) => {
        const { config, params, inputs, expected } = fixture;
        const Layer = config.module === "InstanceNorm2d" ? InstanceNorm2d : InstanceNorm1d;
        const norm = new Layer(inputs.x_eval.shape[1], {
          affine: config.affine === true,
          trackRunningStats: true,
          momentum: Number(config.momentum),
          eps: Number(config.eps),
          dtype,
        });
        copyAffineFromFixture(norm, params, dtype);
        const history = expected.buffers_history ?? [];
        expect(history).toHaveLength(Number(config.steps));
        history.forEach((buffers, step) => {
          norm.forward(fromFixture(inputs[`x_step${step}`], dtype));
          for (const [name, actual] of [
            ["running_mean", norm.runningMean],
            ["running_var", norm.runningVar],
          ] as const) {
            const want = buffers[name];
            if (want === null || want === undefined || actual === null)
              throw new Error(`no ${name} at step ${step}`);
            expect(actual, `${name} after step ${step}`).toBeAllclose(want, TOLERANCES[dtype].stats);
          }
        });
        norm.eval();
        const pass = {
          x: inputs.x_eval,
          dy: inputs.dy_eval,
          output: expected.output,
          grads: { ...expected.grads, x: expected.grads.x_eval },
        };
        checkNormFixture(norm, pass, { dtype, tolerance: TOLERANCES[dtype].output, label: "eval" });
      },
    );
  },
);

describe("InstanceNorm with running statistics", () => {
  it("updates them with the batch mean of each plane's mean and unbiased variance, and uses them in eval", () => {
    const norm = new InstanceNorm1d(2, { trackRunningStats: true, momentum: 0.5, dtype: "float64" });
    // Sample 0: planes [1, 3] and [0, 4]; sample 1: [5, 7] and [2, 2].
    const x = tensor(
      [
        [
          [1, 3],
          [0, 4],
        ],
        [
          [5, 7],
          [2, 2],
        ],
      ],
      { dtype: "float64" },
    );
    norm.forward(x);
    // Means (2, 6) → 4 and (2, 2) → 2; unbiased variances (2, 2) → 2 and (8, 0) → 4.
    expect(norm.runningMean).toBeAllclose([2, 1], { rtol: 1e-15, atol: 0 });
    expect(norm.runningVar).toBeAllclose([1.5, 2.5], { rtol: 1e-15, atol: 0 });
    expect(norm.numBatchesTracked?.item()).toBe(0);
    norm.eval();
    const y = norm.forward(
      tensor(
        [
          [
            [2, 4],
            [1, 1],
          ],
        ],
        { dtype: "float64" },
      ),
    );
    const scale = (v: number) => 1 / Math.sqrt(v + 1e-5);
    expect(y).toBeAllclose([0, 2 * scale(1.5), 0, 0], { rtol: 1e-15, atol: 1e-15 });
  });

  it("accepts unbatched (C, L) and (C, H, W) input as a batch of one", () => {
    const x = randn([3, 4, 5], { dtype: "float64" });
    const norm = new InstanceNorm2d(3, { affine: true, dtype: "float64" });
    const alone = norm.forward(x);
    expect(alone.shape).toEqual([3, 4, 5]);
    expect(alone).toBeAllclose(norm.forward(x.unsqueeze(0)).dataSync(), { rtol: 0, atol: 0 });
    expect(new InstanceNorm1d(3).forward(randn([3, 7])).shape).toEqual([3, 7]);
  });

  it("prints as PyTorch", () => {
    expect(new InstanceNorm2d(3).toString()).toBe(
      "InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)",
    );
    expect(new InstanceNorm1d(4, { affine: true, trackRunningStats: true }).toString()).toBe(
      "InstanceNorm1d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
    );
    expect([...new InstanceNorm2d(2).stateDict().keys()]).toEqual([]);
  });

  it.each([
    [
      "a rank it does not handle",
      () => new InstanceNorm2d(3).forward(randn([3, 4])),
      "InstanceNorm2d expects a 4-D (N, C, H, W) or 3-D (C, H, W) input, got shape [3, 4]",
    ],
    [
      "a channel count that differs from the affine's",
      () => new InstanceNorm1d(3, { affine: true }).forward(randn([2, 4, 5])),
      "InstanceNorm1d(3) expects 3 channels at dim 1, got input of shape [2, 4, 5]",
    ],
    [
      "one spatial element when training",
      () => new InstanceNorm1d(3).forward(randn([2, 3, 1])),
      "instanceNorm: expected more than 1 spatial element when training, got input of shape [2, 3, 1]",
    ],
    [
      "momentum null with running statistics",
      () => new InstanceNorm1d(3, { trackRunningStats: true, momentum: null }),
      "InstanceNorm1d: momentum null (a cumulative average) is not supported with trackRunningStats",
    ],
    [
      "F.instanceNorm without running statistics in eval",
      () => instanceNorm(randn([2, 3, 4]), { useInputStats: false }),
      "instanceNorm with useInputStats: false needs runningMean and runningVar",
    ],
    [
      "F.instanceNorm on (N, C)",
      () => instanceNorm(randn([2, 3])),
      "instanceNorm expects an input of shape (N, C, *spatial) with at least one spatial dim, got shape [2, 3]",
    ],
  ])("rejects %s", (_, run, message) => {
    expect(run).toThrow(message);
  });

  it("ignores numFeatures when nothing is per channel, as PyTorch", () => {
    expect(new InstanceNorm1d(3).forward(randn([2, 4, 5])).shape).toEqual([2, 4, 5]);
  });
});
