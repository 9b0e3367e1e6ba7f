// SyncBatchNorm and its pieces in one thread: Chan's merge vs two-pass, the fallback to BatchNorm, a mirrored group, conversion, process-group errors.
import { cat, Generator, gradcheck, randn, type Tensor, tensor } from "@normgrad/core";
import "@normgrad/testing";
import { afterEach, describe, expect, it } from "vitest";
import { channelMoments, mergeMoments, syncBatchNorm } from "../src/functional/sync-batch-norm.ts";
import { BatchNorm1d, BatchNorm2d } from "../src/layers/batch-norm.ts";
import { ModuleList, Sequential } from "../src/layers/container.ts";
import { Linear } from "../src/layers/linear.ts";
import { convertSyncBatchnorm, SyncBatchNorm } from "../src/layers/sync-batch-norm.ts";
import { Module } from "../src/module.ts";
import { destroyProcessGroup, initProcessGroup, type ProcessGroup } from "../src/process-group.ts";

afterEach(() => destroyProcessGroup());

/**
 * Rank 0 of two whose other rank holds the very same batch (and gradients): it contributes what
 * this rank does, at its own offset when the call is an allGather (rank 1's half still zero),
 * else as a second addend.
 */
const mirrored: ProcessGroup = {
  rank: 0,
  worldSize: 2,
  allReduce: (values) => {
    const half = values.length / 2;
    if (values.subarray(half).every((value) => value === 0)) values.copyWithin(half, 0, half);
    else for (const [i, value] of values.entries()) values[i] = value + value;
  },
  barrier: () => {},
};

/** Two-pass moments of a plain list: the reference. */
function twoPass(values: readonly number[]): { mean: number; m2: number } {
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  return { mean, m2: values.reduce((sum, v) => sum + (v - mean) ** 2, 0) };
}

describe("mergeMoments (Chan, Golub & LeVeque)", () => {
  it.each([
    [
      "equal parts",
      [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
      ],
    ],
    [
      "very different means and counts",
      [[1e8 + 1, 1e8 + 2, 1e8 + 3], [-5, -4.5], Array.from({ length: 1000 }, (_, i) => 1e-3 * i)],
    ],
    ["a part of one value and an empty part", [[3], [], [1e4, 1e4 + 1e-2, 1e4 - 1e-2]]],
  ])("%s: equals two-pass on the concatenation", (_name, parts: number[][]) => {
    const moments = parts.map((part) => channelMoments(part, 1, 1, part.length));
    const merged = mergeMoments(moments);
    const reference = twoPass(parts.flat());
    expect(merged.count).toBe(parts.flat().length);
    expect(merged.mean[0]).toBeCloseTo(reference.mean, 9);
    expect(Math.abs(merged.m2[0] - reference.m2)).toBeLessThanOrEqual(1e-12 * reference.m2);
  });

  it("keeps the variance of large-mean data where E[x²] − E[x]² loses it", () => {
    const a = [1e9 + 1, 1e9 + 3];
    const b = [1e9 + 2, 1e9 + 4, 1e9 + 6];
    const merged = mergeMoments([channelMoments(a, 2, 1, 1), channelMoments(b, 3, 1, 1)]);
    const all = [...a, ...b];
    const onePass = all.reduce((s, v) => s + v * v, 0) / 5 - (all.reduce((s, v) => s + v, 0) / 5) ** 2;
    expect(merged.m2[0] / 5).toBeCloseTo(2.96, 14);
    expect(Math.abs(onePass - 2.96)).toBeGreaterThan(0.1);
  });

  it("merges per channel of an (outer, channels, inner) layout", () => {
    const x = randn([3, 2, 4], { dtype: "float64", generator: new Generator(0) });
    const values = x.dataSync();
    const { mean, m2 } = channelMoments(values, 3, 2, 4);
    const torchStyle = x.permute(1, 0, 2).reshape([2, 12]);
    expect(mean).toBeAllclose(torchStyle.mean(1), { rtol: 1e-15, atol: 1e-15 });
    expect(m2).toBeAllclose(torchStyle.var(1, { correction: 0 }).mul(12), { rtol: 1e-14, atol: 0 });
  });

  it("refuses no parts and mismatched channels, naming them", () => {
    expect(() => mergeMoments([])).toThrow("at least one part, got none");
    const one = channelMoments([1, 2], 2, 1, 1);
    const two = channelMoments([1, 2, 3, 4], 2, 2, 1);
    expect(() => mergeMoments([one, two])).toThrow(
      "part 1 has 2 means and 2 M2 values, part 0 has 1 channels",
    );
  });
});

describe("SyncBatchNorm", () => {
  const x = (): Tensor =>
    randn([6, 3, 2, 2], { dtype: "float64", generator: new Generator(1) })
      .mul(2)
      .add(5);

  it("without a process group is BatchNorm bit for bit (PyTorch's fallback), training and eval", () => {
    const sync = new SyncBatchNorm(3, { dtype: "float64" });
    const plain = new BatchNorm2d(3, { dtype: "float64" });
    expect(sync.forward(x()).dataSync()).toEqual(plain.forward(x()).dataSync());
    expect(sync.runningVar?.dataSync()).toEqual(plain.runningVar?.dataSync());
    sync.eval();
    plain.eval();
    expect(sync.forward(x()).dataSync()).toEqual(plain.forward(x()).dataSync());
  });

  it("over a mirrored group equals BatchNorm on the batch twice: output, gradients, running statistics with the global count", () => {
    const sync = new SyncBatchNorm(3, { dtype: "float64", momentum: 0.5, processGroup: mirrored });
    const plain = new BatchNorm2d(3, { dtype: "float64", momentum: 0.5 });
    const input = x().requiresGrad_();
    const twice = x().requiresGrad_();
    const y = sync.forward(input);
    const reference = plain.forward(cat([twice, twice], 0)).narrow(0, 0, 6);
    expect(y).toBeAllclose(reference, { rtol: 1e-14, atol: 1e-14 });
    expect(sync.runningVar).toBeAllclose(plain.runningVar ?? [], { rtol: 1e-14, atol: 0 });
    expect(sync.runningMean).toBeAllclose(plain.runningMean ?? [], { rtol: 1e-14, atol: 0 });
    // The mirror's loss is the same again, so d/dinput of both halves is twice one half's.
    const weights = randn([6, 3, 2, 2], { dtype: "float64", generator: new Generator(2) });
    y.mul(weights).sum().backward();
    plain
      .forward(cat([twice, twice], 0))
      .mul(cat([weights, weights], 0))
      .sum()
      .backward();
    expect(input.grad?.mul(2)).toBeAllclose(twice.grad ?? [], { rtol: 1e-12, atol: 1e-13 });
  });

  it("passes gradcheck over a mirrored group (input, weight, bias)", () => {
    const weight = randn([3], { dtype: "float64", generator: new Generator(3), requiresGrad: true });
    const bias = randn([3], { dtype: "float64", generator: new Generator(4), requiresGrad: true });
    const options = { momentum: 0.1, eps: 1e-5, group: mirrored };
    const reports = gradcheck(
      (input: Tensor, w: Tensor, b: Tensor) =>
        syncBatchNorm(input, null, null, { ...options, weight: w, bias: b }),
      [x().requiresGrad_(), weight, bias],
    );
    expect(reports).toHaveLength(3); // it throws, naming the worst element, when one fails
  });

  it("refuses input without a channel dim, and a global count of 1", () => {
    const sync = new SyncBatchNorm(3, { processGroup: mirrored });
    expect(() => sync.forward(tensor([1, 2, 3]))).toThrow(
      "expects an input of shape (N, C, *), got shape [3]",
    );
    const lonely: ProcessGroup = { rank: 0, worldSize: 2, allReduce: () => {}, barrier: () => {} };
    const alone = new SyncBatchNorm(3, { processGroup: lonely });
    expect(() => alone.forward(randn([1, 3]))).toThrow("more than 1 value per channel over all 2 replicas");
  });
});

describe("convertSyncBatchnorm", () => {
  it("swaps every BatchNorm for a SyncBatchNorm sharing its parameters and buffers, in Sequential, ModuleList and fields", () => {
    class Net extends Module {
      norm = new BatchNorm1d(4, { momentum: 0.3, eps: 1e-3 });
      blocks = new ModuleList([new BatchNorm1d(4)]);
      body = new Sequential(new Linear(4, 4), new BatchNorm1d(4, { affine: false }));
      forward(x: Tensor): Tensor {
        return this.body.forward(this.norm.forward(x));
      }
    }
    const net = new Net();
    const { weight } = net.norm;
    const before = [...net.stateDict().keys()];
    const converted = convertSyncBatchnorm(net);
    expect(converted).toBe(net);
    expect(net.norm).toBeInstanceOf(SyncBatchNorm);
    expect(net.norm.weight).toBe(weight);
    expect(net.norm.extraRepr()).toBe("4, eps=0.001, momentum=0.3, affine=True, track_running_stats=True");
    expect(net.blocks.at(0)).toBeInstanceOf(SyncBatchNorm);
    expect(net.body.at(1)).toBeInstanceOf(SyncBatchNorm);
    expect(net.body.at(1).toString()).toContain("SyncBatchNorm(4, eps=1e-05, momentum=0.1, affine=False");
    expect([...net.stateDict().keys()]).toEqual(before);
  });

  it("returns a new SyncBatchNorm for a BatchNorm itself, and leaves other modules alone", () => {
    const bn = new BatchNorm2d(2).eval();
    const sync = convertSyncBatchnorm(bn);
    expect(sync).toBeInstanceOf(SyncBatchNorm);
    expect(sync.training).toBe(false);
    const linear = new Linear(2, 2);
    expect(convertSyncBatchnorm(linear)).toBe(linear);
  });
});

describe("initProcessGroup", () => {
  it("refuses a bad rank or world size, and a second group", () => {
    const group = (rank: number, worldSize: number): ProcessGroup => ({
      rank,
      worldSize,
      allReduce: () => {},
      barrier: () => {},
    });
    expect(() => initProcessGroup(group(0, 0))).toThrow("worldSize must be an integer ≥ 1, got 0");
    expect(() => initProcessGroup(group(2, 2))).toThrow("rank must be an integer in [0, 2), got 2");
    initProcessGroup(group(0, 1));
    expect(() => initProcessGroup(group(0, 1))).toThrow("already initialized in this thread");
  });
});
