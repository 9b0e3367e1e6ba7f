// The MNIST MLP with BatchNorm trains on the GPU.js backend and follows the float64 CPU run's loss curve.
import { Generator, liveBuffers, type Tensor, tensor, tidy } from "@normgrad/core";
import { loadMnist } from "@normgrad/data";
import { BatchNorm1d, F, Flatten, Linear, ReLU, Sequential } from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import { describe, expect, it } from "vitest";
import { MODE_SETUP, SUITE_MODES, skipReason, useGpuBackend } from "./helpers.ts";

const STEPS = 6;
const BATCH = 64;

function mlp(): Sequential {
  const generator = new Generator(7);
  return new Sequential(
    new Flatten(),
    new Linear(784, 32, { generator }),
    new BatchNorm1d(32),
    new ReLU(),
    new Linear(32, 10, { generator }),
  );
}

/** The same seeded batches for both runs: rows drawn once from the 10,000-digit set's training split. */
function batches(): { images: Tensor; labels: Tensor }[] {
  const data = loadMnist({ split: "train" });
  const generator = new Generator(11);
  return Array.from({ length: STEPS }, () => {
    const rows = tensor(
      Array.from({ length: BATCH }, () => generator.integer(0, data.labels.size)),
      { dtype: "int32" },
    );
    return { images: data.images.indexSelect(0, rows), labels: data.labels.indexSelect(0, rows) };
  });
}

/**
 * A training step for `model` on `device` (SGD with momentum): takes a batch, resolves to its
 * loss, read with `await data()` as the asynchronous modes require.
 */
function trainer(
  model: Sequential,
  device: "cpu" | "gpu",
): (batch: { images: Tensor; labels: Tensor }) => Promise<number> {
  const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const dtype = [...model.parameters()][0].dtype;
  model.train();
  return async ({ images, labels }) => {
    const loss = tidy(() => {
      const loss = F.crossEntropy(model.forward(images.to(dtype).to(device)), labels.to(device));
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      return loss;
    });
    const [value] = await loss.data();
    loss.dispose();
    return value;
  };
}

/** Runs the steps one after another (each awaits its loss), returning the loss curve. */
async function train(
  step: ReturnType<typeof trainer>,
  data: { images: Tensor; labels: Tensor }[],
): Promise<number[]> {
  const losses: number[] = [];
  for (const batch of data) losses.push(await step(batch));
  return losses;
}

describe.each(SUITE_MODES)("GPU.js %s mode", (mode) => {
  const reason = skipReason(mode);
  describe.skipIf(reason !== null)("MNIST MLP with BatchNorm", () => {
    const backend = useGpuBackend(mode);

    it("trains on the GPU, matching the float64 CPU loss curve within float32 tolerance, without leaking buffers", async () => {
      const data = batches();
      const reference = await train(trainer(mlp().to("float64"), "cpu"), data);
      const model = mlp().to("gpu");
      expect([...model.parameters()].every((parameter) => parameter.device === "gpu")).toBe(true);
      const step = trainer(model, "gpu");
      // After the first step every buffer the run keeps (momentum, running statistics) exists.
      const losses = await train(step, data.slice(0, 1));
      const live = liveBuffers("gpu");
      losses.push(...(await train(step, data.slice(1))));
      expect(liveBuffers("gpu")).toBe(live);
      expect(backend().kernelClass).toBe(MODE_SETUP[mode].kernelClass);
      losses.forEach((loss, step) => {
        expect(
          Math.abs(loss - reference[step]),
          `step ${step}: GPU ${loss}, CPU ${reference[step]}`,
        ).toBeLessThan(2e-4 * (1 + Math.abs(reference[step])));
      });
      expect(reference.at(-1)).toBeLessThan(reference[0] * 0.8);
    });
  });
});
