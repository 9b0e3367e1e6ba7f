// The W4/W5 training benchmark: timed SGD steps on the MNIST split, test accuracy after each epoch.
import { performance } from "node:perf_hooks";
import { Generator, noGrad, type Tensor, tensor, tidy } from "@normgrad/core";
import { DataLoader, loadMnist, MnistDataset } from "@normgrad/data";
import { CrossEntropyLoss, type Sequential } from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import type { BackendConfig } from "../backend-configs.ts";
import { loadAverage } from "../environment.ts";
import { summarize, type TrainingResult, type TrainingRun } from "../result-format.ts";
import { cpuTimeMs } from "../timing.ts";
import type { WorkloadContext } from "./workload.ts";

/** Steps at the start of each run left out of the throughput (warm-up), as the peers did. */
export const SKIP_STEPS = 5;
/** Test batches of 500, as the peers evaluated. */
const EVAL_BATCH_SIZE = 500;
const LEARNING_RATE = 0.05;
const MOMENTUM = 0.9;
export const OPTIMIZER_DESCRIPTION = `SGD momentum ${MOMENTUM} lr ${LEARNING_RATE}`;

/** A training workload: its model, batch size and epochs. */
export interface TrainingSpec {
  workload: "W4" | "W5";
  /** The peers' case string, e.g. "MNIST MLP bs=128 3 ep". */
  caseName: string;
  batchSize: number;
  epochs: number;
  /** The model with PyTorch's default init drawn from `generator`, on `backend`'s device. */
  buildModel(backend: BackendConfig, generator: Generator): Sequential;
}

/** How much of a training workload to run. */
export interface TrainingOptions {
  /** Seeds 1…runs; each run trains a fresh model (default 3, as the peers). */
  runs?: number;
  /** Train on `trainLimit` evenly spaced samples of the split only (smoke tests); default all 7996. */
  trainLimit?: number;
}

/** The training and test sets of W4/W5. */
export interface MnistData {
  train: MnistDataset;
  test: MnistDataset;
}

let mnistCache: MnistData | null = null;

/** The 7996 / 2004 split of the `mnist` package's 10,000 digits (WORKLOADS.md), loaded once. */
export function mnist(): MnistData {
  mnistCache ??= { train: loadMnist({ split: "train" }), test: loadMnist({ split: "test" }) };
  return mnistCache;
}

/** `count` evenly spaced samples of `dataset` (a spread over the whole split, whatever its order). */
function subset(dataset: MnistDataset, count: number): MnistDataset {
  const stride = dataset.length / count;
  const rows = tensor(Int32Array.from({ length: count }, (_, i) => Math.floor(i * stride)));
  const picked = new MnistDataset(
    dataset.images.indexSelect(0, rows),
    dataset.labels.indexSelect(0, rows),
    dataset.source,
    dataset.split,
  );
  rows.dispose();
  return picked;
}

/** Throughput over `count` contiguous groups of timed steps. */
function segmentThroughput(
  stepMs: readonly number[],
  stepSamples: readonly number[],
  count: number,
): number[] {
  const size = Math.ceil(stepMs.length / count);
  return Array.from({ length: count }, (_, segment) => {
    const from = segment * size;
    const to = Math.min(stepMs.length, from + size);
    const samples = stepSamples.slice(from, to).reduce((a, b) => a + b, 0);
    const ms = stepMs.slice(from, to).reduce((a, b) => a + b, 0);
    return (samples / ms) * 1000;
  });
}

function onDevice(t: Tensor, backend: BackendConfig): Tensor {
  return t.device === backend.device ? t : t.to(backend.device);
}

/** Test accuracy with the running statistics (eval mode), in batches of 500. */
async function evaluate(model: Sequential, test: MnistDataset, backend: BackendConfig): Promise<number> {
  model.eval();
  let correct = 0;
  for (const [images, labels] of new DataLoader(test, { batchSize: EVAL_BATCH_SIZE })) {
    const hits = noGrad(() =>
      tidy(() => model.call(onDevice(images, backend)).argmax(1).eq(onDevice(labels, backend)).sum()),
    );
    // Read asynchronously: a GPU backend in asynchronous mode cannot read synchronously.
    const [count] = await hits.data();
    correct += count;
    for (const t of [hits, images, labels]) t.dispose();
  }
  model.train();
  return correct / test.length;
}

/** What a training step works with. */
export interface Trainer {
  model: Sequential;
  criterion: CrossEntropyLoss;
  optimizer: SGD;
  backend: BackendConfig;
}

/** The parts of a training step, in order (the profiler times each). */
export type StepPhase = "batch" | "forward" | "backward" | "optimizer" | "loss read";

/**
 * Forward, backward and the SGD update on one batch; returns the loss (not yet read). `mark` is
 * called as each phase starts, for the profiler.
 */
export function trainingStep(
  { model, criterion, optimizer, backend }: Trainer,
  images: Tensor,
  labels: Tensor,
  mark: (phase: StepPhase) => void = () => {},
): Tensor {
  return tidy(() => {
    mark("forward");
    const loss = criterion.call(model.call(onDevice(images, backend)), onDevice(labels, backend));
    mark("backward");
    optimizer.zeroGrad();
    loss.backward();
    mark("optimizer");
    optimizer.step();
    return loss;
  });
}

/** A fresh model from `seed` with its SGD optimizer (momentum 0.9, lr 0.05) and loss. */
export function createTrainer(spec: TrainingSpec, backend: BackendConfig, seed: number): Trainer {
  const model = spec.buildModel(backend, new Generator(seed));
  const optimizer = new SGD(model.parameters(), { lr: LEARNING_RATE, momentum: MOMENTUM });
  return { model, criterion: new CrossEntropyLoss(), optimizer, backend };
}

/**
 * One training run: a fresh model from `seed`, `epochs` passes over the shuffled training set.
 * A step is timed from fetching its batch to reading its loss value; the first `SKIP_STEPS` are
 * left out of the throughput.
 */
async function trainOnce(
  spec: TrainingSpec,
  backend: BackendConfig,
  train: MnistDataset,
  test: MnistDataset,
  seed: number,
): Promise<TrainingRun> {
  const trainer = createTrainer(spec, backend, seed);
  const { model, optimizer } = trainer;
  const loader = new DataLoader(train, {
    batchSize: spec.batchSize,
    shuffle: true,
    generator: new Generator(seed),
  });
  const stepMs: number[] = [];
  const stepSamples: number[] = [];
  let timedCpuMs = 0;
  const run: TrainingRun = {
    seed,
    samplesPerSec: 0,
    segmentSamplesPerSec: [],
    cpuSamplesPerSec: 0,
    testAcc: [],
    trainLoss: [],
    epochMs: [],
    steps: 0,
    timedSteps: 0,
  };
  model.train();
  for (let epoch = 0; epoch < spec.epochs; epoch++) {
    const batches = loader[Symbol.iterator]();
    let epochMs = 0;
    let lossSum = 0;
    let seen = 0;
    for (;;) {
      const start = performance.now();
      const cpuStart = cpuTimeMs();
      const next = batches.next();
      if (next.done === true) break;
      const [images, labels] = next.value;
      const loss = trainingStep(trainer, images, labels);
      const [lossValue] = await loss.data();
      const ms = performance.now() - start;
      const cpuMs = cpuTimeMs() - cpuStart;
      const count = labels.shape[0];
      for (const t of [loss, images, labels]) t.dispose();
      if (run.steps >= SKIP_STEPS) {
        stepMs.push(ms);
        stepSamples.push(count);
        timedCpuMs += cpuMs;
      }
      run.steps++;
      epochMs += ms;
      lossSum += lossValue * count;
      seen += count;
    }
    run.epochMs.push(epochMs);
    run.trainLoss.push(lossSum / seen);
    run.testAcc.push(await evaluate(model, test, backend));
  }
  optimizer.zeroGrad();
  const timedSamples = stepSamples.reduce((a, b) => a + b, 0);
  run.samplesPerSec = (timedSamples / stepMs.reduce((a, b) => a + b, 0)) * 1000;
  run.segmentSamplesPerSec = segmentThroughput(stepMs, stepSamples, 3);
  run.cpuSamplesPerSec = (timedSamples / timedCpuMs) * 1000;
  run.timedSteps = stepMs.length;
  return run;
}

/**
 * Runs `spec` `runs` times (seeds 1…runs). With several runs the throughput's spread is over
 * runs; with one it is over the thirds of that run's timed steps (the peers' "basis").
 */
export async function runTraining(
  spec: TrainingSpec,
  context: WorkloadContext,
  { runs = 3, trainLimit }: TrainingOptions = {},
): Promise<TrainingResult> {
  const data = mnist();
  const train =
    trainLimit === undefined || trainLimit >= data.train.length ? data.train : subset(data.train, trainLimit);
  const results: TrainingRun[] = [];
  for (let seed = 1; seed <= runs; seed++) {
    const run = await trainOnce(spec, context.backend, train, data.test, seed);
    const accuracy = run.testAcc.map((acc) => (acc * 100).toFixed(2)).join(" / ");
    context.log(
      `${spec.workload} seed ${seed}: ${run.samplesPerSec.toFixed(1)} samples/s, test acc ${accuracy}`,
    );
    results.push(run);
  }
  const epochMedians = Array.from(
    { length: spec.epochs },
    (_, epoch) => summarize(results.map((run) => run.testAcc[epoch])).median,
  );
  return {
    config: context.backend.config,
    workload: spec.workload,
    case: spec.caseName,
    samplesPerSec: summarize(
      runs === 1 ? results[0].segmentSamplesPerSec : results.map((run) => run.samplesPerSec),
    ),
    cpuSamplesPerSec: summarize(results.map((run) => run.cpuSamplesPerSec)),
    statBasis: runs === 1 ? "1 run(s) x 3 segments" : `${runs} runs`,
    skipSteps: SKIP_STEPS,
    optimizer: OPTIMIZER_DESCRIPTION,
    finalTestAcc: summarize(results.map((run) => run.testAcc[spec.epochs - 1])),
    testAccPerEpochMedian: epochMedians,
    nTrain: train.length,
    nTest: data.test.length,
    runs: results,
    loadavg: loadAverage(),
  };
}
