// The model, data and optimizer of the PyTorch trajectory test (W5's CNN), shared with the fixture's export step.
import { type DType, Generator, type Tensor } from "@normgrad/core";
import { DataLoader, loadMnist } from "@normgrad/data";
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from "@normgrad/nn";

/** What the fixture was generated with; the test and the export step read these. */
export const TRAJECTORY = { seed: 1, batchSize: 32, steps: 6, lr: 0.05, momentum: 0.9 } as const;

/** W5's CNN (benchmarks/WORKLOADS.md) with PyTorch's default init drawn from `Generator(seed)`. */
export function buildTrajectoryCnn(dtype: DType): Sequential {
  const generator = new Generator(TRAJECTORY.seed);
  return new Sequential(
    new Conv2d(1, 16, 3, { padding: 1, bias: false, generator }),
    new BatchNorm2d(16),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(16, 32, 3, { padding: 1, bias: false, generator }),
    new BatchNorm2d(32),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(1568, 10, { generator }),
  ).to(dtype);
}

/** The first `TRAJECTORY.steps` shuffled batches of the 10k-digit set's training split, raw [0, 1] pixels. */
export function trajectoryBatches(): [Tensor, Tensor][] {
  const loader = new DataLoader(loadMnist({ split: "train" }), {
    batchSize: TRAJECTORY.batchSize,
    shuffle: true,
    generator: new Generator(TRAJECTORY.seed),
  });
  const batches: [Tensor, Tensor][] = [];
  for (const [images, labels] of loader) {
    batches.push([images, labels]);
    if (batches.length === TRAJECTORY.steps) break;
  }
  return batches;
}
