// The standard loop on the GPU: fit/evaluate with DataLoader({ device: "gpu" }), and a TensorDataset of GPU tensors.
import { Generator, liveBuffers, randn, type Tensor, tensor, tidy } from "@normgrad/core";
import { DataLoader, TensorDataset } from "@normgrad/data";
import { BatchNorm1d, CrossEntropyLoss, Linear, ReLU, Sequential } from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import { evaluate, fit } from "@normgrad/train";
import { describe, expect, it } from "vitest";
import { MODE_SETUP, SUITE_MODES, skipReason, useGpuBackend } from "./helpers.ts";

/** 64 float32 points in two blobs around (±2, ±2), labelled by blob (int32): separable by a line. */
function blobs(): TensorDataset {
  const generator = new Generator(3);
  const labels = Array.from({ length: 64 }, (_, i) => i % 2);
  // tidy leaves only the dataset's two tensors behind, so the leak checks can count them.
  const points = tidy(() => {
    const centers = tensor(labels.map((label) => (label === 1 ? [2, 2] : [-2, -2])));
    return centers.add(randn([64, 2], { generator }).mul(0.5));
  });
  return new TensorDataset(points, tensor(Int32Array.from(labels)));
}

/** A small classifier with BatchNorm (so evaluation's running statistics are exercised), on the GPU. */
function classifier(): Sequential {
  const generator = new Generator(5);
  return new Sequential(
    new Linear(2, 8, { generator }),
    new BatchNorm1d(8),
    new ReLU(),
    new Linear(8, 2, { generator }),
  ).to("gpu");
}

/** A batch's values, read with `await data()` as the asynchronous modes require. */
async function values(batch: Tensor[]): Promise<number[][]> {
  return Promise.all(batch.map(async (t) => Array.from(await t.data())));
}

describe.each(SUITE_MODES)("GPU.js %s mode", (mode) => {
  const reason = skipReason(mode);
  describe.skipIf(reason !== null)("training through fit", () => {
    const backend = useGpuBackend(mode);

    it('fit and evaluate train a model on "gpu" from DataLoader({ device: "gpu" }) without leaking buffers', async () => {
      const model = classifier();
      const train = new DataLoader(blobs(), {
        batchSize: 16,
        shuffle: true,
        generator: new Generator(1),
        device: "gpu",
      });
      const test = new DataLoader(blobs(), { batchSize: 32, device: "gpu" });
      // Live buffers after each epoch: from the first on, every buffer the run keeps (momentum,
      // running statistics) exists, so the counts must not move.
      const livePerEpoch: { cpu: number; gpu: number }[] = [];
      const history = await fit(model, {
        train,
        test,
        optimizer: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }),
        lossFn: new CrossEntropyLoss(),
        epochs: 4,
        progress: false,
        onEpochEnd: () => livePerEpoch.push({ cpu: liveBuffers("cpu"), gpu: liveBuffers("gpu") }),
      });
      expect(backend().kernelClass).toBe(MODE_SETUP[mode].kernelClass);
      // The CPU-side batches are disposed once moved, and the GPU batches once used.
      expect(livePerEpoch.slice(1)).toEqual(livePerEpoch.slice(0, -1));
      const losses = history.map((metrics) => metrics.trainLoss);
      expect(losses.at(-1), `train losses ${losses.join(", ")}`).toBeLessThan(losses[0] * 0.5);
      expect(history.at(-1)?.trainAccuracy).toBeGreaterThan(0.9);
      expect(history.at(-1)?.testAccuracy).toBeGreaterThan(0.9);
      const evaluation = await evaluate(model, test, new CrossEntropyLoss());
      expect(evaluation.loss).toBeCloseTo(history.at(-1)?.testLoss ?? Number.NaN, 5);
      expect(evaluation.accuracy).toBe(history.at(-1)?.testAccuracy);
    });

    it("fit names both devices when the model is on the GPU and the batches on the CPU", async () => {
      const model = classifier();
      const before = liveBuffers("cpu");
      await expect(
        fit(model, {
          train: new DataLoader(blobs(), { batchSize: 16 }),
          optimizer: new SGD(model.parameters(), { lr: 0.1 }),
          lossFn: new CrossEntropyLoss(),
          epochs: 1,
          progress: false,
        }),
      ).rejects.toThrow(
        `fit/evaluate: the model is on "gpu" but the loader's batch is on (cpu, cpu): create the DataLoader with { device: "gpu" }`,
      );
      // The dataset (2 tensors) is all that stays: the refused batch was disposed.
      expect(liveBuffers("cpu")).toBe(before + 2);
    });

    it("a TensorDataset of GPU tensors gathers its batches on the GPU, as the CPU one does", async () => {
      const cpuData = blobs();
      const gpuData = new TensorDataset(...cpuData.tensors.map((t) => t.to("gpu")));
      const order = (data: TensorDataset) =>
        new DataLoader(data, { batchSize: 24, shuffle: true, generator: new Generator(9) });
      const gpuBefore = liveBuffers("gpu");
      const cpuBefore = liveBuffers("cpu");
      const cpuBatches = Array.from(order(cpuData));
      for (const batch of order(gpuData)) {
        expect(batch.map((t) => t.device)).toEqual(["gpu", "gpu"]);
        expect(batch.map((t) => t.dtype)).toEqual(["float32", "int32"]);
        const expected = cpuBatches.shift() ?? [];
        expect(await values(batch)).toEqual(await values(expected));
        for (const t of [...batch, ...expected]) t.dispose();
      }
      expect(liveBuffers("gpu")).toBe(gpuBefore);
      expect(liveBuffers("cpu")).toBe(cpuBefore);

      // The same dataset feeds fit and evaluate directly, no device option needed.
      const model = classifier();
      const history = await fit(model, {
        train: new DataLoader(gpuData, { batchSize: 16, shuffle: true, generator: new Generator(1) }),
        optimizer: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }),
        lossFn: new CrossEntropyLoss(),
        epochs: 3,
        progress: false,
      });
      expect(history.at(-1)?.trainLoss).toBeLessThan(history[0].trainLoss);
      const evaluation = await evaluate(
        model,
        new DataLoader(gpuData, { batchSize: 64 }),
        new CrossEntropyLoss(),
      );
      expect(evaluation.accuracy).toBeGreaterThan(0.9);
    });

    it("a batch the GPU cannot hold (float64) is refused naming the dtype, and nothing leaks", () => {
      // The labels come first, so they are already moved when the float64 points fail.
      const labels = tensor(Int32Array.from([0, 1, 0, 1, 0, 1, 0, 1]));
      const dataset = new TensorDataset(labels, randn([8, 2], { dtype: "float64" }));
      const loader = new DataLoader(dataset, { batchSize: 4, device: "gpu" });
      const [gpuBefore, cpuBefore] = [liveBuffers("gpu"), liveBuffers("cpu")];
      expect(() => Array.from(loader)).toThrow('device "gpu" does not support float64');
      expect([liveBuffers("gpu"), liveBuffers("cpu")]).toEqual([gpuBefore, cpuBefore]);
    });
  });
});
