// The quickstart: define a model, train it on MNIST, check its accuracy, save and reload its weights.
import { manualSeed, noGrad } from "@normgrad/core";
import { DataLoader, loadMnist, MNIST_MEAN, MNIST_STD, normalize } from "@normgrad/data";
import { BatchNorm1d, CrossEntropyLoss, Flatten, Linear, load, ReLU, Sequential, save } from "@normgrad/nn";
import { SGD } from "@normgrad/optim";

/** Options of {@link quickstart}. */
export interface QuickstartOptions {
  /** SGD steps (batches of 64). */
  steps: number;
  seed: number;
  /** Where the weights are saved, as safetensors. */
  weightsPath: string;
  /** Receives the progress lines. */
  log: (line: string) => void;
}

/** What {@link quickstart} measured. */
export interface QuickstartResult {
  losses: { step: number; loss: number }[];
  testAccuracy: number;
  /** Largest |original − reloaded| over the test logits: 0 when the weights round-trip exactly. */
  reloadMaxDifference: number;
}

const makeModel = () =>
  new Sequential(new Flatten(), new Linear(784, 128), new BatchNorm1d(128), new ReLU(), new Linear(128, 10));

/** Trains a one-hidden-layer MLP with BatchNorm on the `mnist` package's 10,000 digits (7996 train / 2004 test). */
export async function quickstart({
  steps,
  seed,
  weightsPath,
  log,
}: QuickstartOptions): Promise<QuickstartResult> {
  manualSeed(seed);
  const transform = normalize(MNIST_MEAN, MNIST_STD);
  const train = new DataLoader(loadMnist({ split: "train", transform }), { batchSize: 64, shuffle: true });
  const test = loadMnist({ split: "test", transform });

  const model = makeModel();
  const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const lossFn = new CrossEntropyLoss();
  const losses: { step: number; loss: number }[] = [];
  for (let step = 1; step <= steps; ) {
    for (const [images, labels] of train) {
      const loss = lossFn.forward(model.forward(images), labels);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      losses.push({ step, loss: loss.item() });
      if (step % 25 === 0 || step === steps) {
        const recent =
          losses.slice(-25).reduce((sum, { loss }) => sum + loss, 0) / Math.min(25, losses.length);
        log(`step ${step}: mean loss of the last 25 steps ${recent.toFixed(3)}`);
      }
      if (++step > steps) break;
    }
  }

  model.eval(); // BatchNorm now uses its running statistics
  const logits = noGrad(() => model.forward(test.images));
  const testAccuracy = logits.argmax(1).eq(test.labels).to("float32").mean().item();
  log(`test accuracy: ${(100 * testAccuracy).toFixed(1)}%`);

  await save(model, weightsPath);
  const reloaded = makeModel();
  reloaded.loadStateDict(await load(weightsPath));
  reloaded.eval();
  const reloadMaxDifference = noGrad(() => reloaded.forward(test.images).sub(logits).abs().max().item());
  log(`saved, reloaded into a new model: max |difference| of the test logits = ${reloadMaxDifference}`);
  return { losses, testAccuracy, reloadMaxDifference };
}
