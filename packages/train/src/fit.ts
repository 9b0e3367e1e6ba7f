// fit and evaluate: the training loop (tidy steps, progress, schedulers, JSON Lines metrics) and evaluation in eval mode.
import { type Device, formatValue, noGrad, type Tensor, tidy } from "@normgrad/core";
import type { DataLoader } from "@normgrad/data";
import { Module } from "@normgrad/nn";
import { appendLogLine, prepareLogFile } from "#log-file";
import { defaultProgressStream } from "#terminal";
import { describeMetrics, EpochProgress } from "./progress.ts";
import type { ProgressStream } from "./progress-bar-types.ts";

/** A loss: model output and target in, a one-element mean loss out (e.g. `F.crossEntropy`). */
export type LossFunction = (output: Tensor, target: Tensor) => Tensor;

/** What `fit` needs from an optimizer (any `@normgrad/optim` optimizer). */
export interface TrainableOptimizer {
  readonly paramGroups: readonly { lr: number }[];
  /** Clears the parameters' gradients before a step's backward pass. */
  zeroGrad(): void;
  /** Updates the parameters from their gradients. */
  step(): void;
}

/** What `fit` needs from a learning-rate scheduler (any `@normgrad/optim` scheduler). */
export interface SteppableScheduler {
  /** Advances the schedule by one batch or one epoch (`schedulerInterval`), setting the new learning rates. */
  step(): void;
}

/** Options of `fit`. */
export interface FitOptions {
  /**
   * Training batches `[input, target]`; shuffle it for SGD. They must be on the model's device:
   * for a model on the GPU, create the loader with `{ device: "gpu" }`.
   */
  train: DataLoader;
  /** Evaluated after every epoch when given (its batches on the model's device too). */
  test?: DataLoader;
  optimizer: TrainableOptimizer;
  /** A loss function or loss module returning the batch mean (e.g. `new CrossEntropyLoss()`). */
  lossFn: LossFunction | Module<[Tensor, Tensor], Tensor>;
  /** Number of passes over `train`. */
  epochs: number;
  /** Stepped after every epoch (default) or every batch (`schedulerInterval: "batch"`, for OneCycleLR). */
  scheduler?: SteppableScheduler;
  schedulerInterval?: "epoch" | "batch";
  /** Appends one JSON object per epoch (JSON Lines) to this file; its folder is created (Node only; in a browser use `onEpochEnd`). */
  logFile?: string;
  /** Show a progress bar (default true). */
  progress?: boolean;
  /** Where the progress goes (default: `process.stderr` in Node, the console in a browser). */
  progressStream?: ProgressStream;
  /** Called with each epoch's metrics as soon as they exist (Keras's `onEpochEnd`), e.g. to keep them if a later epoch throws. */
  onEpochEnd?: (metrics: EpochMetrics) => void;
}

/** The metrics of one epoch, as `fit` returns them and writes them to `logFile`. */
export interface EpochMetrics {
  /** 1-based. */
  epoch: number;
  /** Sample-weighted mean of the batch losses over the epoch (measured while training). */
  trainLoss: number;
  /** Fraction of training samples classified right while training (null unless (N, C) outputs and int32 targets). */
  trainAccuracy: number | null;
  testLoss: number | null;
  testAccuracy: number | null;
  /** Learning rate of the first parameter group at the start of the epoch. */
  lr: number;
  /** Training samples per second (evaluation excluded). */
  samplesPerSec: number;
  /** Seconds of the training pass. */
  seconds: number;
}

/** Evaluation results: the sample-weighted mean loss and the accuracy (null when not a classification). */
export interface EvaluationResult {
  loss: number;
  accuracy: number | null;
}

/** The loss as a function, whether given as one or as a loss module. */
export function lossFunctionOf(lossFn: FitOptions["lossFn"]): LossFunction {
  return lossFn instanceof Module ? (output, target) => lossFn.forward(output, target) : lossFn;
}

/** Correct predictions in a batch: argmax over classes equals the int32 target; null when not a classification. */
export function countCorrect(output: Tensor, target: Tensor): Tensor | null {
  if (output.ndim !== 2 || target.ndim !== 1 || target.dtype !== "int32") return null;
  return output.argmax(1).eq(target).sum();
}

/**
 * A batch's loss and correct count as numbers, then frees both tensors. Awaited, because
 * asynchronous devices (GPU.js webgpu, webasm with threads) deliver values only through `data()`;
 * it also reports their failed value checks (see `checkValues`).
 */
async function readBatch(loss: Tensor, correct: Tensor | null): Promise<[number, number | null]> {
  const [lossValues, correctValues] = await Promise.all([loss.data(), correct?.data() ?? null]);
  loss.dispose();
  correct?.dispose();
  return [lossValues[0], correctValues === null ? null : correctValues[0]];
}

/** The device of the model's first parameter (or buffer), or null for a model with neither. */
function modelDevice(model: Module<[Tensor], Tensor>): Device | null {
  for (const parameter of model.parameters()) return parameter.device;
  for (const buffer of model.buffers()) return buffer.device;
  return null;
}

/**
 * Splits a batch into input and target, with an error naming what the loader gave instead: not
 * two tensors, or tensors on another device than the model's (which would otherwise fail deep in
 * the forward pass). The batch is disposed before either error is thrown.
 */
function inputAndTarget(batch: Tensor[], device: Device | null): [Tensor, Tensor] {
  let problem: string | null = null;
  if (batch.length !== 2) {
    problem = `fit/evaluate need batches of [input, target], the loader gave ${batch.length} tensor(s)`;
  } else if (device !== null && batch.some((t) => t.device !== device)) {
    problem =
      `fit/evaluate: the model is on "${device}" but the loader's batch is on ` +
      `(${batch.map((t) => t.device).join(", ")}): create the DataLoader with { device: "${device}" }`;
  }
  if (problem !== null) {
    for (const t of batch) t.dispose();
    throw new Error(problem);
  }
  return [batch[0], batch[1]];
}

/** Running sums over the batches of a pass. */
export class Tally {
  samples = 0;
  lossSum = 0;
  correct: number | null = 0;

  add(batchSize: number, loss: number, correct: number | null): void {
    this.samples += batchSize;
    this.lossSum += loss * batchSize;
    this.correct = correct === null || this.correct === null ? null : this.correct + correct;
  }

  get loss(): number {
    return this.lossSum / this.samples;
  }

  get accuracy(): number | null {
    return this.correct === null ? null : this.correct / this.samples;
  }
}

/**
 * Evaluates `model` on every batch of `loader` in eval mode (BatchNorm uses running statistics,
 * Dropout is off) under `noGrad`, then restores the model's previous mode. Returns the
 * sample-weighted mean loss and, for (N, C) outputs with int32 targets, the accuracy. The
 * loader's batches must be on the model's device (`new DataLoader(dataset, { device: "gpu" })`
 * for a model on the GPU); a batch elsewhere is an error naming both devices.
 */
export async function evaluate(
  model: Module<[Tensor], Tensor>,
  loader: DataLoader,
  lossFn: FitOptions["lossFn"],
): Promise<EvaluationResult> {
  const computeLoss = lossFunctionOf(lossFn);
  const wasTraining = model.training;
  model.eval();
  const tally = new Tally();
  const device = modelDevice(model);
  try {
    for (const batch of loader) {
      const [input, target] = inputAndTarget(batch, device);
      const [loss, correct] = noGrad(() =>
        tidy(() => {
          const output = model.forward(input);
          return [computeLoss(output, target), countCorrect(output, target)] as const;
        }),
      );
      for (const t of batch) t.dispose();
      tally.add(input.shape[0], ...(await readBatch(loss, correct)));
    }
  } finally {
    model.train(wasTraining);
  }
  if (tally.samples === 0) throw new Error("evaluate: the loader yielded no batches");
  return { loss: tally.loss, accuracy: tally.accuracy };
}

/**
 * Trains `model` for `epochs` passes over `train`. Each step runs inside `tidy` (so memory stays
 * flat): `zeroGrad`, forward, loss, backward, `optimizer.step()`, then the scheduler when it
 * steps per batch; batches are disposed after use. After each epoch: the scheduler (per-epoch),
 * evaluation on `test` (see `evaluate`), a summary line, and a JSON line in `logFile`.
 * The model is put in training mode for the training passes. Resolves to the metrics per epoch.
 * Each batch's loss is read with `await data()`, so the same loop trains on devices that only
 * deliver values asynchronously (GPU.js webgpu, webasm with threads).
 *
 * Batches are not moved: the loaders deliver them on the model's device, as the loop of a
 * PyTorch user does with `.to(device)`, and a batch on another device is an error naming both.
 * To train on the GPU, move the model and ask the loaders for GPU batches:
 * ```ts
 * const model = mlp().to("gpu");
 * const train = new DataLoader(dataset, { batchSize: 64, shuffle: true, device: "gpu" });
 * const optimizer = new SGD(model.parameters(), { lr: 0.1 }); // after .to(): the moved parameters
 * await fit(model, { train, optimizer, lossFn: F.crossEntropy, epochs: 3 });
 * ```
 */
export async function fit(
  model: Module<[Tensor], Tensor>,
  {
    train,
    test,
    optimizer,
    lossFn,
    epochs,
    scheduler,
    schedulerInterval = "epoch",
    logFile,
    progress = true,
    progressStream = defaultProgressStream(),
    onEpochEnd,
  }: FitOptions,
): Promise<EpochMetrics[]> {
  if (!Number.isInteger(epochs) || epochs < 1) {
    throw new RangeError(`fit: epochs must be a positive integer, got ${epochs}`);
  }
  if (schedulerInterval !== "epoch" && schedulerInterval !== "batch") {
    throw new RangeError(
      `fit: schedulerInterval must be "epoch" or "batch", got ${formatValue(schedulerInterval)}`,
    );
  }
  if (logFile !== undefined) prepareLogFile(logFile);
  const computeLoss = lossFunctionOf(lossFn);
  const device = modelDevice(model);
  const history: EpochMetrics[] = [];
  for (let epoch = 1; epoch <= epochs; epoch++) {
    model.train();
    const lr = optimizer.paramGroups[0]?.lr ?? Number.NaN;
    const bar = progress ? new EpochProgress(progressStream, { epoch, epochs, batches: train.length }) : null;
    const tally = new Tally();
    const start = performance.now();
    let batchIndex = 0;
    for (const batch of train) {
      const [input, target] = inputAndTarget(batch, device);
      const [loss, correct] = tidy(() => {
        optimizer.zeroGrad();
        const output = model.forward(input);
        const batchLoss = computeLoss(output, target);
        batchLoss.backward();
        optimizer.step();
        return [batchLoss.detach(), countCorrect(output, target)] as const;
      });
      if (scheduler !== undefined && schedulerInterval === "batch") scheduler.step();
      for (const t of batch) t.dispose();
      tally.add(input.shape[0], ...(await readBatch(loss, correct)));
      batchIndex++;
      const elapsed = (performance.now() - start) / 1000;
      bar?.update(batchIndex, {
        loss: tally.loss,
        accuracy: tally.accuracy,
        samplesPerSec: tally.samples / elapsed,
      });
    }
    const seconds = (performance.now() - start) / 1000;
    bar?.stop();
    if (tally.samples === 0) throw new Error("fit: the training loader yielded no batches");
    if (scheduler !== undefined && schedulerInterval === "epoch") scheduler.step();
    const evaluation = test === undefined ? null : await evaluate(model, test, computeLoss);
    model.train();
    const metrics: EpochMetrics = {
      epoch,
      trainLoss: tally.loss,
      trainAccuracy: tally.accuracy,
      testLoss: evaluation?.loss ?? null,
      testAccuracy: evaluation?.accuracy ?? null,
      lr,
      samplesPerSec: tally.samples / seconds,
      seconds,
    };
    history.push(metrics);
    onEpochEnd?.(metrics);
    if (logFile !== undefined) appendLogLine(logFile, JSON.stringify(metrics));
    if (bar !== null) {
      const parts = [describeMetrics("train", metrics.trainLoss, metrics.trainAccuracy)];
      if (evaluation !== null) parts.push(describeMetrics("test", evaluation.loss, evaluation.accuracy));
      bar.log(
        `epoch ${epoch}/${epochs}: ${parts.join(" | ")} | ${Math.round(metrics.samplesPerSec)} samples/s`,
      );
    }
  }
  return history;
}
