// core's tensor-level fused entry points: when the fast path is available, what a step writes, and the blocks of a layout.
import { describe, expect, it } from "vitest";
import {
  type AdamStepState,
  canFuseAdamStep,
  canFuseNormalize,
  canFuseSgdStep,
  fusedAdamStep,
  fusedNormalize,
  fusedSgdStep,
  noGrad,
  normBlocks,
  type Tensor,
  tensor,
  zeros,
} from "../src/index.ts";

/** One Adam step's options (PyTorch's defaults, lr 0.1, the first step). */
const ADAM = {
  lr: 0.1,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  decoupledWeightDecay: false,
  amsgrad: false,
  maximize: false,
  step: 1,
};

const sgd = {
  lr: 0.5,
  momentum: 0,
  dampening: 0,
  nesterov: false,
  weightDecay: 0,
  maximize: false,
  firstStep: false,
};

describe("fused optimizer steps", () => {
  it("updates the parameter in place and bumps its version", () => {
    const param = tensor([1, 2, 3], { dtype: "float64" });
    const before = param.version;
    expect(canFuseSgdStep(param, tensor([2, 2, 2], { dtype: "float64" }), null)).toBe(true);
    noGrad(() => fusedSgdStep(param, tensor([2, 2, 2], { dtype: "float64" }), null, sgd));
    expect(param.tolist()).toEqual([0, 1, 2]);
    expect(param.version).toBe(before + 1);
  });

  it("is unavailable for views and mismatched state, and refuses to run there", () => {
    const whole = zeros([4]);
    const view = whole.narrow(0, 0, 2);
    const grad = zeros([2]);
    expect(canFuseSgdStep(view, grad, null)).toBe(false);
    expect(() => fusedSgdStep(view, grad, null, sgd)).toThrow(/canFuseSgdStep/);
    const param = zeros([2]);
    const state: AdamStepState<Tensor> = {
      expAvg: zeros([2]),
      expAvgSq: zeros([2], { dtype: "float64" }),
      maxExpAvgSq: null,
    };
    expect(canFuseAdamStep(param, grad, state)).toBe(false);
    expect(() => fusedAdamStep(param, grad, state, ADAM)).toThrow(/canFuseAdamStep/);
  });

  it("writes Adam's moments and bumps every written version", () => {
    const param = tensor([1, -1], { dtype: "float64" });
    const state: AdamStepState<Tensor> = {
      expAvg: zeros([2], { dtype: "float64" }),
      expAvgSq: zeros([2], { dtype: "float64" }),
      maxExpAvgSq: null,
    };
    const grad = tensor([0.5, -2], { dtype: "float64" });
    expect(canFuseAdamStep(param, grad, state)).toBe(true);
    noGrad(() => fusedAdamStep(param, grad, state, ADAM));
    expect(state.expAvg.tolist()).toEqual([(1 - 0.9) * 0.5, (1 - 0.9) * -2]);
    expect(state.expAvg.version).toBe(1);
    expect(state.expAvgSq.version).toBe(1);
    // The first step moves each element by lr·sign(g) (up to eps).
    const [first, second] = param.dataSync();
    expect(first).toBeCloseTo(0.9, 6);
    expect(second).toBeCloseTo(-0.9, 6);
  });
});

describe("fused normalization", () => {
  it("runs on the CPU and returns the statistics it computed", () => {
    const x = tensor(
      [
        [1, 2],
        [3, 6],
      ],
      { dtype: "float64" },
    );
    expect(canFuseNormalize(x)).toBe(true);
    const layout = { kind: "per-channel", outer: 2, channels: 2, inner: 1 } as const;
    const { output, statistics } = fusedNormalize(x, layout, null, null, { eps: 0, statistics: null });
    expect(output.tolist()).toEqual([
      [-1, -1],
      [1, 1],
    ]);
    expect(statistics?.mean.tolist()).toEqual([2, 4]);
    expect(statistics?.variance.tolist()).toEqual([1, 4]);
  });
});

describe("normBlocks", () => {
  it("gives BatchNorm one block per channel shared across outer, and groups a run each", () => {
    expect(normBlocks({ kind: "per-channel", outer: 2, channels: 3, inner: 4 })).toMatchObject({
      blocks: 3,
      channelsPerBlock: 1,
      run: 4,
      statStride: 0,
      statistics: 3,
      count: 8,
    });
    expect(normBlocks({ kind: "per-group", outer: 2, channels: 6, inner: 4, groups: 3 })).toMatchObject({
      blocks: 3,
      channelsPerBlock: 2,
      run: 8,
      statStride: 3,
      statistics: 6,
      count: 8,
    });
  });
});
