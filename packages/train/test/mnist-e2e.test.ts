// End to end: a 784→64→10 MLP trained for two epochs on the 7996 MNIST training digits reaches ≥ 90% test accuracy.
import { Generator, manualSeed } from "@normgrad/core";
import { DataLoader, loadMnist, MNIST_MEAN, MNIST_STD, normalize } from "@normgrad/data";
import { CrossEntropyLoss, Flatten, Linear, ReLU, Sequential } from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import { expect, it } from "vitest";
import { fit } from "../src/index.ts";

// Over seeds 0–4 (measured with the interleaved 10k split), one epoch gives 0.885–0.904 and two 0.897–0.929;
// this seed gives 0.923 after two, a margin of 2 points over the bar.
it("an MLP reaches 90% test accuracy on MNIST (10k digits) in two epochs", async () => {
  const transform = normalize(MNIST_MEAN, MNIST_STD);
  const train = new DataLoader(loadMnist({ split: "train", transform }), {
    batchSize: 64,
    shuffle: true,
    generator: new Generator(0),
  });
  const test = new DataLoader(loadMnist({ split: "test", transform }), { batchSize: 500 });
  manualSeed(0);
  const model = new Sequential(new Flatten(), new Linear(784, 64), new ReLU(), new Linear(64, 10));
  const history = await fit(model, {
    train,
    test,
    optimizer: new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }),
    lossFn: new CrossEntropyLoss(),
    epochs: 2,
    progress: false,
  });
  expect(history.at(-1)?.testAccuracy).toBeGreaterThanOrEqual(0.9);
});
