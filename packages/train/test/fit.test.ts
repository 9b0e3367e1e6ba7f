// fit and evaluate on small synthetic data: metrics, schedulers, JSON Lines log, progress text, modes, memory, errors.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  Generator,
  isGradEnabled,
  liveBuffers,
  manualSeed,
  randn,
  type Tensor,
  tensor,
} from "@normgrad/core";
import { DataLoader, TensorDataset } from "@normgrad/data";
import { CrossEntropyLoss, F, Linear, Module, MSELoss } from "@normgrad/nn";
import { OneCycleLR, SGD, StepLR } from "@normgrad/optim";
import { describe, expect, it } from "vitest";
import { evaluate, fit } from "../src/index.ts";

/** 64 points in two blobs around (±2, ±2), labelled by blob: separable by a line. */
function blobs(): TensorDataset {
  const generator = new Generator(3);
  const labels = Array.from({ length: 64 }, (_, i) => i % 2);
  const noise = randn([64, 2], { generator }).mul(0.5);
  const centers = tensor(labels.map((label) => (label === 1 ? [2, 2] : [-2, -2])));
  return new TensorDataset(centers.add(noise), tensor(Int32Array.from(labels)));
}

function loader(dataset = blobs(), batchSize = 16): DataLoader {
  return new DataLoader(dataset, { batchSize, shuffle: true, generator: new Generator(1) });
}

/** A non-terminal stream that keeps what is written to it (a CI log). */
class LogStream extends Writable {
  text = "";
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe("fit", () => {
  it("trains, steps the scheduler per epoch, and logs metrics as JSON Lines", async () => {
    manualSeed(0);
    const model = new Linear(2, 2);
    const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const logFile = join(mkdtempSync(join(tmpdir(), "normgrad-fit-")), "logs", "metrics.jsonl");
    const history = await fit(model, {
      train: loader(),
      test: new DataLoader(blobs(), { batchSize: 30 }),
      optimizer,
      lossFn: new CrossEntropyLoss(),
      epochs: 3,
      scheduler: new StepLR(optimizer, { stepSize: 1, gamma: 0.5 }),
      logFile,
      progress: false,
    });
    expect(history.map((m) => m.epoch)).toEqual([1, 2, 3]);
    expect(history.map((m) => m.lr)).toEqual([0.1, 0.05, 0.025]);
    expect(history[2].trainLoss).toBeLessThan(history[0].trainLoss);
    expect(history[2].testAccuracy).toBe(1);
    for (const m of history) expect(m.samplesPerSec).toBeGreaterThan(0);
    const logged = readFileSync(logFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(logged).toEqual(JSON.parse(JSON.stringify(history)));
    expect(Object.keys(logged[0])).toEqual([
      "epoch",
      "trainLoss",
      "trainAccuracy",
      "testLoss",
      "testAccuracy",
      "lr",
      "samplesPerSec",
      "seconds",
    ]);
  });

  it("writes plain progress lines to a stream that is not a terminal", async () => {
    const stream = new LogStream();
    manualSeed(0);
    const model = new Linear(2, 2);
    await fit(model, {
      train: loader(),
      test: loader(),
      optimizer: new SGD(model.parameters(), { lr: 0.1 }),
      lossFn: F.crossEntropy,
      epochs: 2,
      progressStream: stream,
    });
    const lines = stream.text.trim().split("\n");
    expect(stream.text.includes("\u001b")).toBe(false);
    expect(lines.filter((line) => line.startsWith("epoch 2/2 [")).at(-1)).toMatch(
      /^epoch 2\/2 \[=+\] 4\/4 \| loss \d\.\d{4} \| acc \d+\.\d\d% \| \d+ samples\/s \| \d+s$/,
    );
    expect(lines.at(-1)).toMatch(
      /^epoch 2\/2: train loss \d\.\d{4} acc \d+\.\d\d% \| test loss \d\.\d{4} acc \d+\.\d\d% \| \d+ samples\/s$/,
    );
  });

  it("steps a per-batch scheduler after every batch (OneCycleLR)", async () => {
    const model = new Linear(2, 2);
    const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const scheduler = new OneCycleLR(optimizer, { maxLr: 0.5, epochs: 2, stepsPerEpoch: 4 });
    await fit(model, {
      train: loader(),
      optimizer,
      lossFn: F.crossEntropy,
      epochs: 2,
      scheduler,
      schedulerInterval: "batch",
      progress: false,
    });
    expect(scheduler.lastEpoch).toBe(8);
  });

  it("reports no accuracy for regression", async () => {
    const x = randn([20, 3], { generator: new Generator(0) });
    const dataset = new TensorDataset(x, x.sum(1, true));
    const model = new Linear(3, 1);
    const [metrics] = await fit(model, {
      train: loader(dataset, 5),
      test: loader(dataset, 5),
      optimizer: new SGD(model.parameters(), { lr: 0.05 }),
      lossFn: new MSELoss(),
      epochs: 1,
      progress: false,
    });
    expect(metrics.trainAccuracy).toBeNull();
    expect(metrics.testAccuracy).toBeNull();
    expect(metrics.testLoss).toBeGreaterThan(0);
  });

  it("keeps memory flat from one epoch to the next", async () => {
    const model = new Linear(2, 2);
    const options = {
      train: loader(),
      test: loader(),
      optimizer: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }),
      lossFn: F.crossEntropy,
      epochs: 1,
      progress: false,
    };
    await fit(model, options);
    const live = liveBuffers();
    await fit(model, options);
    expect(liveBuffers()).toBe(live);
  });

  it.each([
    ["zero epochs", { epochs: 0 }, /fit: epochs must be a positive integer, got 0/],
    [
      "batches that are not [input, target]",
      { train: new DataLoader(new TensorDataset(tensor([[1, 2]]), tensor([1]), tensor([2]))) },
      /fit\/evaluate need batches of \[input, target\], the loader gave 3 tensor\(s\)/,
    ],
  ])("refuses %s", async (_, override, message) => {
    const model = new Linear(2, 2);
    const options = {
      train: loader(),
      optimizer: new SGD(model.parameters(), { lr: 0.1 }),
      lossFn: F.crossEntropy,
      epochs: 1,
      progress: false,
    };
    await expect(fit(model, { ...options, ...override })).rejects.toThrow(message);
  });
});

describe("evaluate", () => {
  /** Records the mode and grad state it was called in. */
  class Probe extends Module {
    readonly inner = new Linear(2, 2);
    seen: { training: boolean; gradEnabled: boolean }[] = [];
    forward(x: Tensor): Tensor {
      this.seen.push({ training: this.training, gradEnabled: isGradEnabled() });
      return this.inner.forward(x);
    }
  }

  it.each([true, false])("runs in eval mode without grad and restores training = %s", async (training) => {
    const probe = new Probe();
    probe.train(training);
    const result = await evaluate(probe, new DataLoader(blobs(), { batchSize: 32 }), F.crossEntropy);
    expect(probe.seen).toEqual([
      { training: false, gradEnabled: false },
      { training: false, gradEnabled: false },
    ]);
    expect(probe.training).toBe(training);
    expect(probe.inner.training).toBe(training);
    expect(result.accuracy).toBeGreaterThanOrEqual(0);
    expect(result.loss).toBeGreaterThan(0);
  });
});
