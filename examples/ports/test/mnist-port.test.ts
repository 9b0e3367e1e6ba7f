// The MNIST port learns in a few Adadelta steps and has the original network's state-dict keys and shapes.
import { describe, expect, it } from "vitest";
import { MnistNet, mnistPort } from "../src/index.ts";

describe("pytorch/examples mnist port", () => {
  it("has the original's parameters: names and shapes as in its state dict", () => {
    const shapes = Object.fromEntries(
      [...new MnistNet().stateDict()].map(([name, tensor]) => [name, tensor.shape]),
    );
    expect(shapes).toEqual({
      "conv1.weight": [32, 1, 3, 3],
      "conv1.bias": [32],
      "conv2.weight": [64, 32, 3, 3],
      "conv2.bias": [64],
      "fc1.weight": [128, 9216],
      "fc1.bias": [128],
      "fc2.weight": [10, 128],
      "fc2.bias": [10],
    });
  });

  it("learns: 20 Adadelta steps take the loss from chance to well below and the test accuracy past 60%", () => {
    const { trainLosses, tests } = mnistPort({ epochs: 1, maxSteps: 20, logInterval: 1, source: "mnist" });
    expect(trainLosses).toHaveLength(20);
    expect(trainLosses[0].loss).toBeCloseTo(Math.log(10), 0);
    const lastFive = trainLosses.slice(-5).reduce((sum, { loss }) => sum + loss, 0) / 5;
    expect(lastFive).toBeLessThan(0.6 * trainLosses[0].loss);
    expect(tests).toHaveLength(1);
    expect(tests[0].accuracy).toBeGreaterThan(0.6);
  }, 120_000);
});
