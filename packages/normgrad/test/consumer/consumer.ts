// A TypeScript consumer of the published packages: type-checked by consumers.test.ts with a stock strict tsconfig.

import { Module } from "@normgrad/nn";
import { Adam } from "@normgrad/optim";
import { type EpochMetrics, fit } from "@normgrad/train";
import {
  BatchNorm2d,
  Conv2d,
  CrossEntropyLoss,
  DataLoader,
  Flatten,
  fromBytes,
  type GradcheckInputReport,
  gradcheck,
  Linear,
  MaxPool2d,
  manualSeed,
  noGrad,
  ReLU,
  randn,
  Sequential,
  SGD,
  type Shape,
  StepLR,
  type Tensor,
  TensorDataset,
  tensor,
  toBytes,
} from "normgrad";
import { type GpuInit, initGpu } from "normgrad/gpu";

class Net extends Module {
  readonly features = new Sequential(
    new Conv2d(1, 4, 3, { padding: 1 }),
    new BatchNorm2d(4),
    new ReLU(),
    new MaxPool2d(2),
  );
  readonly head = new Sequential(new Flatten(), new Linear(4 * 4 * 4, 3));

  forward(x: Tensor): Tensor {
    return this.head.forward(this.features.forward(x));
  }
}

export async function run(): Promise<EpochMetrics[]> {
  manualSeed(0);
  const inputs = randn([32, 1, 8, 8]);
  const labels = tensor(
    Array.from({ length: 32 }, (_, i) => i % 3),
    { dtype: "int32" },
  );
  const model = new Net();
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const scheduler = new StepLR(optimizer, { stepSize: 1, gamma: 0.5 });
  const metrics = await fit(model, {
    train: new DataLoader(new TensorDataset(inputs, labels), { batchSize: 8, shuffle: true }),
    optimizer,
    scheduler,
    lossFn: new CrossEntropyLoss(),
    epochs: 2,
    progress: false,
  });
  const shape: Shape = noGrad(() => model.forward(inputs)).shape;
  const restored = fromBytes(toBytes(model));
  const adam = new Adam(new Linear(2, 2).parameters(), { lr: 1e-3 });
  adam.zeroGrad();
  const a = randn([2, 3], { dtype: "float64", requiresGrad: true });
  const checked: GradcheckInputReport[] = gradcheck((x) => x.mul(x).sum(), [a]);
  const gpu: Promise<GpuInit> = initGpu({ mode: "webasm" });
  void gpu;
  void restored.size;
  void shape;
  void checked;
  return metrics;
}
