// The BatchNorm lab's trainer on the bundled digits: lockstep batches and weights, training, divergence, and what it reports.
import { Generator, noGrad, randperm, tensor } from "@normgrad/core";
import { decodeMnistIdx, MNIST_MEAN, MNIST_STD } from "@normgrad/data";
import { buildNetwork } from "@normgrad/example-bn-placement/build-network";
import { BatchNorm1d, F } from "@normgrad/nn";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SETTINGS, type LabSettings } from "../.vitepress/lab/lab-settings.ts";
import {
  activationHistogram,
  channelMoments,
  HISTOGRAM_BINS,
  LAB_VARIANTS,
  type LabData,
  LockstepTrainer,
  PROBE_SIZE,
  type StepReport,
} from "../.vitepress/lab/lockstep-trainer.ts";
import {
  idxPrefix,
  LAB_TEST_DIGITS,
  LAB_TRAIN_DIGITS,
  readLabSubset,
} from "../.vitepress/lab/mnist-subset-plugin.ts";

let data: LabData;

beforeAll(() => {
  const files = readLabSubset();
  const read = (name: string) => {
    const bytes = files.get(name);
    if (bytes === undefined) throw new Error(`the lab subset has no ${name}`);
    return bytes;
  };
  const split = (images: string, labels: string) =>
    decodeMnistIdx(read(images), read(labels), { imagesFile: images, labelsFile: labels });
  const train = split("train-images-idx3-ubyte", "train-labels-idx1-ubyte");
  const test = split("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
  data = {
    trainImages: train.images,
    trainLabels: train.labels,
    testImages: test.images,
    testLabels: test.labels,
  };
});

function settingsWith(overrides: Partial<LabSettings>): LabSettings {
  return { ...DEFAULT_SETTINGS, backend: "cpu", ...overrides };
}

async function trainFor(trainer: LockstepTrainer, steps: number): Promise<StepReport[]> {
  const reports: StepReport[] = [];
  for (let step = 0; step < steps; step++)
    reports.push(await trainer.trainStep(step === 0 || step === steps - 1));
  return reports;
}

function lossOf(report: StepReport, variant: number): number {
  const metrics = report.metrics[variant];
  if (!("loss" in metrics)) throw new Error(`variant ${LAB_VARIANTS[variant]} ${metrics.diverged}`);
  return metrics.loss;
}

describe("the lab's bundled digits", () => {
  it("are the first 2,048 training and 512 test digits of the official MNIST, as IDX files", () => {
    expect(data.trainLabels.length).toBe(LAB_TRAIN_DIGITS);
    expect(data.testLabels.length).toBe(LAB_TEST_DIGITS);
    expect(data.trainImages.length).toBe(LAB_TRAIN_DIGITS * 784);
    // The official training set starts 5, 0, 4, 1, 9 and the test set 7, 2, 1, 0, 4.
    expect([...data.trainLabels.subarray(0, 5)]).toEqual([5, 0, 4, 1, 9]);
    expect([...data.testLabels.subarray(0, 5)]).toEqual([7, 2, 1, 0, 4]);
    // Every digit is there in numbers for a stratified look at accuracy.
    for (let digit = 0; digit < 10; digit++)
      expect(data.trainLabels.filter((l) => l === digit).length).toBeGreaterThan(150);
  });

  it("cuts an IDX file's prefix with its first dimension rewritten, and refuses a count it lacks", () => {
    const idx = Uint8Array.from([0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6]);
    expect([...idxPrefix(idx, 2, "tiny")]).toEqual([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4]);
    expect(() => idxPrefix(idx, 4, "tiny")).toThrow("tiny: asked for the first 4 items of 3");
  });
});

describe("LockstepTrainer", () => {
  it("starts every variant from Generator(seed) and steps all three on the same batch", async () => {
    const settings = settingsWith({ seed: 3 });
    const trainer = new LockstepTrainer(data, settings);
    const [first] = await trainFor(trainer, 1);
    // The first batch as the trainer must draw it: the first 64 of randperm under Generator(seed).
    const indices = [...randperm(LAB_TRAIN_DIGITS, { generator: new Generator(3) }).dataSync()].slice(0, 64);
    const pixels = new Float32Array(64 * 784);
    indices.forEach((index, row) => {
      for (let p = 0; p < 784; p++)
        pixels[row * 784 + p] = (data.trainImages[index * 784 + p] - MNIST_MEAN) / MNIST_STD;
    });
    const images = tensor(pixels, { shape: [64, 1, 28, 28] });
    const labels = tensor(Int32Array.from(indices, (index) => data.trainLabels[index]));
    LAB_VARIANTS.forEach((variant, index) => {
      const network = buildNetwork({ model: "mlp", variant, generator: new Generator(3) });
      const expected = noGrad(() => F.crossEntropy(network.forward(images), labels).item());
      expect(lossOf(first, index), variant).toBeCloseTo(expected, 5);
    });
    expect(first).toMatchObject({ step: 1, epoch: 1 });
    trainer.dispose();
  });

  it("trains all three variants (the loss falls) and repeats itself exactly under the same seed", async () => {
    const runs = [new LockstepTrainer(data, settingsWith({})), new LockstepTrainer(data, settingsWith({}))];
    const [a, b] = [await trainFor(runs[0], 60), await trainFor(runs[1], 60)];
    expect(b.map((report) => report.metrics)).toEqual(a.map((report) => report.metrics));
    LAB_VARIANTS.forEach((variant, index) => {
      const late = a.slice(-10).reduce((sum, report) => sum + lossOf(report, index), 0) / 10;
      expect(late, variant).toBeLessThan(0.5 * lossOf(a[0], index));
    });
    for (const run of runs) run.dispose();
  });

  it("stops a variant whose loss stops being finite and trains the others on (the lesson lr=0.5)", async () => {
    const trainer = new LockstepTrainer(data, settingsWith({ lr: 0.5 }));
    const reports = await trainFor(trainer, 60);
    const last = reports[reports.length - 1];
    expect(last.metrics[0]).toEqual({
      diverged: expect.stringMatching(/^diverged at step \d+: the training loss became/),
    });
    const evaluation = await trainer.evaluate();
    expect(evaluation.test[0]).toBeNull();
    expect(evaluation.test[1]?.accuracy).toBeGreaterThan(0.75);
    expect(evaluation.test[2]?.accuracy).toBeGreaterThan(0.75);
    expect(evaluation.evalHistograms[0]).toBeNull();
    trainer.dispose();
  });

  it("reports the inspected channel's batch and running statistics, equal to the layer's own", async () => {
    const trainer = new LockstepTrainer(data, settingsWith({ channel: 7, layer: 2, inspect: "relu-bn" }));
    const [report] = await trainFor(trainer, 1);
    const evaluation = await trainer.evaluate();
    expect(report.channel?.running).not.toBeNull();
    // After one step from (0, 1): running = 0.1·batch mean, 0.9 + 0.1·unbiased batch variance.
    const batch = report.channel?.batch ?? { mean: Number.NaN, variance: Number.NaN };
    expect(report.channel?.running?.mean).toBeCloseTo(0.1 * batch.mean, 6);
    expect(report.channel?.running?.variance).toBeCloseTo(0.9 + (0.1 * batch.variance * 64) / 63, 5);
    // Eval mode divides by exactly these running statistics; train mode by the probe's own.
    expect(evaluation.channel?.normalizer?.eval.mean).toBeCloseTo(
      report.channel?.running?.mean ?? Number.NaN,
      7,
    );
    expect(evaluation.channel?.normalizer?.eval.variance).toBeCloseTo(
      report.channel?.running?.variance ?? 0,
      6,
    );
    expect(evaluation.channel?.normalizer?.train).not.toEqual(evaluation.channel?.normalizer?.eval);
    // In train mode the channel's output is standardized (then γ = 1, β = 0 after one small step).
    expect(evaluation.channel?.output.train.mean).toBeCloseTo(0, 2);
    expect(evaluation.channel?.output.train.variance).toBeCloseTo(1, 2);
    expect(() => trainer.inspect({ inspect: "bn-relu", layer: 3, channel: 0 })).toThrow(
      "layer must be 1–2, got 3",
    );
    expect(() => trainer.inspect({ inspect: "bn-relu", layer: 1, channel: 256 })).toThrow(
      "channel must be 0–255, got 256",
    );
    trainer.dispose();
  });

  it("shows GroupNorm as the same in both modes, with no running statistics", async () => {
    const trainer = new LockstepTrainer(data, settingsWith({ norm: "group", batchSize: 4 }));
    const [report] = await trainFor(trainer, 1);
    const evaluation = await trainer.evaluate();
    expect(report.channel?.running).toBeNull();
    expect(evaluation.channel?.normalizer).toBeNull();
    expect(evaluation.channel?.output.train).toEqual(evaluation.channel?.output.eval);
    trainer.dispose();
  });

  it("histograms every hidden activation of every variant, train and eval, against step 0", async () => {
    const trainer = new LockstepTrainer(data, settingsWith({ activation: "sigmoid", depth: 3 }));
    await trainFor(trainer, 2);
    const evaluation = await trainer.evaluate();
    for (const histograms of [evaluation.trainHistograms, evaluation.evalHistograms]) {
      expect(histograms.map((blocks) => blocks?.length)).toEqual([3, 3, 3]);
      for (const histogram of histograms.flatMap((blocks) => blocks ?? [])) {
        expect(histogram).toMatchObject({ low: 0, high: 1 });
        expect(histogram.counts).toHaveLength(HISTOGRAM_BINS);
        expect(histogram.counts.reduce((a, b) => a + b, 0)).toBe(
          histogram.initialCounts.reduce((a, b) => a + b, 0),
        );
      }
    }
    // The eval histograms are over the first PROBE_SIZE test digits' 256 units each.
    const evalCounts = evaluation.evalHistograms[0]?.[0].counts ?? [];
    expect(evalCounts.reduce((a, b) => a + b, 0)).toBe(Math.min(16_384, PROBE_SIZE * 256));
    expect(
      evaluation.test.every((metrics) => metrics !== null && metrics.accuracy >= 0 && metrics.accuracy <= 1),
    ).toBe(true);
    trainer.dispose();
  });

  it("refuses a batch larger than the training digits, naming both", () => {
    const tiny: LabData = { ...data, trainLabels: data.trainLabels.subarray(0, 10) };
    expect(() => new LockstepTrainer(tiny, settingsWith({ batchSize: 16 }))).toThrow(
      "batch size 16 exceeds the 10 training digits",
    );
  });
});

describe("the lab's statistics helpers", () => {
  it("channelMoments is a channel's mean and biased variance, as BatchNorm1d normalizes with", () => {
    const values = Float32Array.from([1, 10, 2, 20, 4, 30, 5, 40]);
    expect(channelMoments(values, 2, 0)).toEqual({ mean: 3, variance: 2.5 });
    expect(channelMoments(values, 2, 1)).toEqual({ mean: 25, variance: 125 });
    const bn = new BatchNorm1d(2, { affine: false });
    const normalized = noGrad(() => bn.forward(tensor(values, { shape: [4, 2] })).dataSync());
    expect(normalized[0]).toBeCloseTo((1 - 3) / Math.sqrt(2.5 + 1e-5), 5);
  });

  it("activationHistogram bins ReLU outputs from 0, counts the zeros, and clips outliers into the last bin", () => {
    // 200 zeros, 799 values spread over (0, 2], one outlier at 1000.
    const values = Float32Array.from({ length: 1000 }, (_, i) =>
      i < 200 ? 0 : i === 999 ? 1000 : (i - 199) / 400,
    );
    const histogram = activationHistogram(values, Float32Array.from([0, 1]), "relu");
    expect(histogram.low).toBe(0);
    expect(histogram.high).toBeLessThan(1000);
    expect(histogram.high).toBeGreaterThan(2);
    expect(histogram.stuckFraction).toBe(0.2);
    expect(histogram.counts[0]).toBeGreaterThanOrEqual(200);
    expect(histogram.counts[HISTOGRAM_BINS - 1]).toBeGreaterThanOrEqual(1);
    expect(histogram.counts.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(histogram.initialCounts.reduce((a, b) => a + b, 0)).toBe(2);
    const saturated = activationHistogram(
      Float32Array.from([0.001, 0.5, 0.999, 0.99]),
      new Float32Array(1),
      "sigmoid",
    );
    expect(saturated).toMatchObject({ low: 0, high: 1, stuckFraction: 0.75 });
  });
});
