// W4 (MNIST MLP with BatchNorm) and W5 (MNIST CNN with BatchNorm): the models of WORKLOADS.md.
import type { Generator } from "@normgrad/core";
import { BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from "@normgrad/nn";
import type { BackendConfig } from "../backend-configs.ts";
import { runTraining, type TrainingOptions, type TrainingSpec } from "./training.ts";
import type { Workload } from "./workload.ts";

/** 784→Linear256 (no bias)→BN1d→ReLU→Linear256 (no bias)→BN1d→ReLU→Linear10; batch 128, 3 epochs. */
export const MNIST_MLP: TrainingSpec = {
  workload: "W4",
  caseName: "MNIST MLP bs=128 3 ep",
  batchSize: 128,
  epochs: 3,
  buildModel: ({ device }: BackendConfig, generator: Generator) =>
    new Sequential(
      new Flatten(),
      new Linear(784, 256, { bias: false, device, generator }),
      new BatchNorm1d(256, { device }),
      new ReLU(),
      new Linear(256, 256, { bias: false, device, generator }),
      new BatchNorm1d(256, { device }),
      new ReLU(),
      new Linear(256, 10, { device, generator }),
    ),
};

/**
 * Conv3x3 1→16 (no bias)→BN2d→ReLU→MaxPool2→Conv3x3 16→32 (no bias)→BN2d→ReLU→MaxPool2→
 * Linear 1568→10; padding 1 keeps 28×28 so the pools give 14×14 and 7×7 (32·7·7 = 1568); batch 64, 2 epochs.
 */
export const MNIST_CNN: TrainingSpec = {
  workload: "W5",
  caseName: "MNIST CNN bs=64 2 ep",
  batchSize: 64,
  epochs: 2,
  buildModel: ({ device }: BackendConfig, generator: Generator) =>
    new Sequential(
      new Conv2d(1, 16, 3, { padding: 1, bias: false, device, generator }),
      new BatchNorm2d(16, { device }),
      new ReLU(),
      new MaxPool2d(2),
      new Conv2d(16, 32, 3, { padding: 1, bias: false, device, generator }),
      new BatchNorm2d(32, { device }),
      new ReLU(),
      new MaxPool2d(2),
      new Flatten(),
      new Linear(1568, 10, { device, generator }),
    ),
};

/** A training workload running `spec` with `options` (runs, a smaller training set). */
export function trainingWorkload(spec: TrainingSpec, options: TrainingOptions = {}): Workload {
  return {
    id: spec.workload,
    title: spec.caseName,
    run: async (context) => [await runTraining(spec, context, options)],
  };
}
