// fitDataParallel with SyncBatchNorm against one process on the whole batch, step by step; plain BatchNorm's difference; error paths.
import { type DType, type Tensor, tidy } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import { lossFunctionOf } from "../src/fit.ts";
import { fitDataParallel } from "../src/index.ts";
import { buildReplica, type ReplicaArgument } from "./data-parallel-replica.ts";

const REPLICA = new URL("./data-parallel-replica.ts", import.meta.url);
const BAD_REPLICAS = new URL("./data-parallel-bad-replicas.ts", import.meta.url);

/** |actual − expected| ≤ atol + rtol·|expected| elementwise (PyTorch's allclose, as @normgrad/testing's toBeAllclose), naming the worst element. */
function expectAllclose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol, atol }: { rtol: number; atol: number },
  what: string,
): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = -1;
  let excess = 0;
  for (let i = 0; i < expected.length; i++) {
    const over = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    if (!(over <= excess)) [worst, excess] = [i, over];
  }
  if (worst >= 0) expect.fail(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]}`);
}

/** float64: summation order only; float32: the order of float32 sums (half-batch matmuls) through a few SGD steps. */
const TOLERANCE = { float64: { rtol: 1e-12, atol: 1e-14 }, float32: { rtol: 1e-5, atol: 1e-6 } } as const;

/** One process on the whole global batches: each step's loss and state dict. */
function singleProcess(
  argument: ReplicaArgument,
  epochs: number,
): { losses: number[]; states: Map<string, Tensor>[] } {
  const { model, optimizer, lossFn, train } = buildReplica(argument);
  const computeLoss = lossFunctionOf(lossFn);
  const losses: number[] = [];
  const states: Map<string, Tensor>[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const [input, target] of train) {
      losses.push(
        tidy(() => {
          optimizer.zeroGrad();
          const loss = computeLoss(model.forward(input), target);
          loss.backward();
          optimizer.step();
          return loss.item();
        }),
      );
      states.push(new Map([...model.stateDict()].map(([key, value]) => [key, value.clone()])));
    }
  }
  return { losses, states };
}

function relativeDifferences(actual: readonly number[], expected: readonly number[]): number[] {
  return actual.map((value, i) => Math.abs(value - expected[i]) / Math.abs(expected[i]));
}

describe.each([
  ["mlp", "float64"],
  ["cnn", "float64"],
  ["mlp", "float32"],
  ["cnn", "float32"],
] as const)("2 replicas with SyncBatchNorm, %s %s", (model, dtype: DType & keyof typeof TOLERANCE) => {
  // 23 samples in batches of 8: the last batch of 7 splits 4 + 3.
  const argument: ReplicaArgument = { model, dtype, sync: true, samples: 23, batchSize: 8 };

  it("match one process on the whole batch at every step: losses, parameters, running statistics", async () => {
    const epochs = 2;
    const parallel = await fitDataParallel({
      module: REPLICA,
      worldSize: 2,
      epochs,
      argument,
      recordStates: true,
    });
    const reference = singleProcess(argument, epochs);
    expect(parallel.losses).toHaveLength(6);
    expectAllclose(parallel.losses, reference.losses, TOLERANCE[dtype], "losses");
    parallel.states?.forEach((state, step) => {
      for (const [key, value] of reference.states[step]) {
        const actual = state.get(key);
        if (actual === undefined) throw new Error(`step ${step}: ${key} missing`);
        expectAllclose(actual.dataSync(), value.dataSync(), TOLERANCE[dtype], `step ${step + 1} ${key}`);
      }
    });
    expect(parallel.states).toHaveLength(6);
    expect(parallel.state.get("1.num_batches_tracked")?.item()).toBe(6);
  });
});

describe("fitDataParallel", () => {
  const argument: ReplicaArgument = { model: "mlp", dtype: "float64", sync: true, samples: 23, batchSize: 8 };

  it("with plain BatchNorm, each replica normalizes its own half: the losses leave the single-process ones", async () => {
    const plain = { ...argument, sync: false };
    const parallel = await fitDataParallel({ module: REPLICA, worldSize: 2, epochs: 1, argument: plain });
    const reference = singleProcess(plain, 1);
    // Already the first step differs (before any update): half-batch statistics are not the batch's.
    expect(Math.min(...relativeDifferences(parallel.losses, reference.losses))).toBeGreaterThan(1e-4);
    // Each rank's running statistics follow its own halves; the result holds rank 0's (DDP keeps rank 0's buffers).
    const runningMean = parallel.state.get("1.running_mean")?.dataSync() ?? [];
    expect(runningMean).not.toEqual(reference.states.at(-1)?.get("1.running_mean")?.dataSync());
  });

  it("with one replica equals one process bit for bit", async () => {
    const parallel = await fitDataParallel({
      module: REPLICA,
      worldSize: 1,
      epochs: 1,
      argument,
      recordStates: true,
    });
    const reference = singleProcess(argument, 1);
    expect(parallel.losses).toEqual(reference.losses);
    for (const [key, value] of reference.states.at(-1) ?? []) {
      expect(parallel.state.get(key)?.dataSync(), key).toEqual(value.dataSync());
    }
  });

  it("reports epoch metrics: the global batches' loss and throughput", async () => {
    const seen: number[] = [];
    const { epochs, losses } = await fitDataParallel({
      module: REPLICA,
      worldSize: 2,
      epochs: 1,
      argument,
      onEpochEnd: (metrics) => seen.push(metrics.epoch),
    });
    expect(seen).toEqual([1]);
    const weighted = (losses[0] * 8 + losses[1] * 8 + losses[2] * 7) / 23;
    expect(epochs[0].trainLoss).toBeCloseTo(weighted, 12);
    expect(epochs[0].samplesPerSec).toBeGreaterThan(0);
  });

  it("rejects a world size that is not an integer ≥ 1", async () => {
    await expect(fitDataParallel({ module: REPLICA, worldSize: 0, epochs: 1 })).rejects.toThrow(
      "worldSize must be an integer ≥ 1, got 0",
    );
    await expect(fitDataParallel({ module: REPLICA, worldSize: 1.5, epochs: 1 })).rejects.toThrow("got 1.5");
  });

  it("names a setup module that does not export setup", async () => {
    await expect(
      fitDataParallel({
        module: new URL("./data-parallel-no-setup.ts", import.meta.url),
        worldSize: 2,
        epochs: 1,
      }),
    ).rejects.toThrow(/does not export a setup function \(its exports: buildReplica\)/);
  });

  it("names the first mismatch when the ranks build different models", async () => {
    await expect(
      fitDataParallel({ module: BAD_REPLICAS, worldSize: 2, epochs: 1, argument: "parameter-count" }),
    ).rejects.toThrow("rank 1's replica has 2 parameters and buffers, rank 0's has 1");
    await expect(
      fitDataParallel({ module: BAD_REPLICAS, worldSize: 2, epochs: 1, argument: "shape" }),
    ).rejects.toThrow("rank 1's replica has weight float64 [3, 5] where rank 0's has weight float64 [3, 4]");
  });

  it("refuses a batch with fewer samples than replicas, and the other ranks stop", async () => {
    const tiny = { ...argument, samples: 5, batchSize: 4 };
    await expect(
      fitDataParallel({ module: REPLICA, worldSize: 2, epochs: 1, argument: tiny }),
    ).rejects.toThrow(/at least worldSize \(2\) samples, got 2 tensor\(s\) of 1 sample/);
  });
});
