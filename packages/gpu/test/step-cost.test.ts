// What one W4 training step costs the GPU device: host reads, uploads and compute launches, pinned.
import { Generator, randn, type Tensor, tensor, tidy } from "@normgrad/core";
import { BatchNorm1d, CrossEntropyLoss, Flatten, Linear, ReLU, Sequential } from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import { describe, expect, it } from "vitest";
import { gpuStats, resetGpuStats } from "../src/index.ts";
import { SUITE_MODES, skipReason, useGpuBackend } from "./helpers.ts";

const BATCH = 128;

/** The W4 model of benchmarks/WORKLOADS.md: 784→256 (no bias)→BN→ReLU→256 (no bias)→BN→ReLU→10. */
function w4(generator: Generator): Sequential {
  return new Sequential(
    new Flatten(),
    new Linear(784, 256, { bias: false, generator }),
    new BatchNorm1d(256),
    new ReLU(),
    new Linear(256, 256, { bias: false, generator }),
    new BatchNorm1d(256),
    new ReLU(),
    new Linear(256, 10, { generator }),
  ).to("gpu");
}

/** One step on a host batch (moved to the GPU inside, as a data loader's batch is); the loss is not read. */
function stepper(model: Sequential): (images: Tensor, labels: Tensor) => Tensor {
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const criterion = new CrossEntropyLoss();
  model.train();
  return (images, labels) =>
    tidy(() => {
      const loss = criterion.call(model.call(images.to("gpu")), labels.to("gpu"));
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      return loss;
    });
}

describe.each(SUITE_MODES)("GPU.js %s mode", (mode) => {
  const reason = skipReason(mode);
  describe.skipIf(reason !== null)("a W4 training step", () => {
    useGpuBackend(mode);

    it("reads nothing back, uploads only its batch and launches at most 60 kernels", async () => {
      const generator = new Generator(3);
      const step = stepper(w4(generator));
      const batch = () => ({
        images: randn([BATCH, 1, 28, 28], { generator }),
        labels: tensor(
          Array.from({ length: BATCH }, () => generator.integer(0, 10)),
          { dtype: "int32" },
        ),
      });
      // Warm-up: momentum buffers and cached constants exist after the first steps.
      for (let warm = 0; warm < 2; warm++) {
        const { images, labels } = batch();
        const loss = step(images, labels);
        await loss.data();
        loss.dispose();
      }
      const { images, labels } = batch();
      resetGpuStats();
      const loss = step(images, labels);
      const stats = gpuStats();
      // Read only after counting: the read settles the step's value checks.
      await loss.data();
      loss.dispose();
      // Before the deferred checks, the constant cache and the fusions (docs/gpu.md): 12 reads, 31 uploads, 140 launches.
      expect(stats.reads, "host reads").toBe(0);
      expect(stats.uploads, "uploads and fills (the batch's images and labels)").toBe(2);
      expect(stats.launches, "compute launches").toBeLessThanOrEqual(60);
    });
  });
});
