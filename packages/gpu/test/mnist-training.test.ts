// The MNIST MLP with BatchNorm trains on the GPU.js backend and follows the float64 CPU run's loss curve.
import { Generator, liveBuffers, type Tensor, tensor, tidy } from "@normgrad/core";
import { loadMnist } from "@normgrad/data";
import { BatchNorm1d, F, Flatten, Linear, ReLU, Sequential } from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import { describe, expect, it } from "vitest";
import { KERNEL_CLASS, SUITE_MODES, skipReason, useGpuBackend } from "./helpers.ts";

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

/** A training step for `model` on `device` (SGD with momentum): takes a batch, returns its loss. */
function trainer(
  model: Sequential,
  device: "cpu" | "gpu",
): (batch: { images: Tensor; labels: Tensor }) => number {
  const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const dtype = [...model.parameters()][0].dtype;
  model.train();
  return ({ images, labels }) =>
    tidy(() => {
      const loss = F.crossEntropy(model.forward(images.to(dtype).to(device)), labels.to(device));
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      return loss.item();
    });
}

describe.each(SUITE_MODES)("GPU.js %s mode", (mode) => {
  const reason = skipReason(mode);
  describe.skipIf(reason !== null)("MNIST MLP with BatchNorm", () => {
    const backend = useGpuBackend(mode);

    it("trains on the GPU, matching the float64 CPU loss curve within float32 tolerance, without leaking buffers", () => {
      const data = batches();
      const reference = data.map(trainer(mlp().to("float64"), "cpu"));
      const model = mlp().to("gpu");
      expect([...model.parameters()].every((parameter) => parameter.device === "gpu")).toBe(true);
      const step = trainer(model, "gpu");
      // After the first step every buffer the run keeps (momentum, running statistics) exists.
      const losses = [step(data[0])];
      const live = liveBuffers("gpu");
      losses.push(...data.slice(1).map(step));
      expect(liveBuffers("gpu")).toBe(live);
      expect(backend().kernelClass).toBe(KERNEL_CLASS[mode]);
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
