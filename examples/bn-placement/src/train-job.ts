// One training run of the study: build the network, fit it with SGD, test after each epoch, save the weights.
import { Generator, type Tensor, tensor } from "@normgrad/core";
import { DataLoader } from "@normgrad/data";
import { convertSyncBatchnorm, F, NonFiniteStatisticsError, type Sequential } from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import { type EpochMetrics, evaluate, fit, fitDataParallel, type Replica } from "@normgrad/train";
import { buildNetwork } from "./build-network.ts";
import type { DatasetName, ModelKind, NormKind, StudyDevice, Variant } from "./study-config.ts";
import { loadStudySplit } from "./study-data.ts";
import type { EpochRecord, RunRecord } from "./study-result.ts";

/** Which part of the study a job belongs to. */
export type JobPart = "main" | "lr-sweep" | "small-batch";

/** Everything one run needs; plain data, so it can be sent to a worker process. */
export interface TrainJob {
  id: number;
  part: JobPart;
  model: ModelKind;
  variant: Variant;
  norm: NormKind | null;
  seed: number;
  lr: number;
  momentum: number;
  batchSize: number;
  epochs: number;
  dataset: DatasetName;
  trainSize: number | null;
  testSize: number | null;
  device: StudyDevice;
  /** Replicas (worker threads) to train on, data-parallel with SyncBatchNorm; 1 = this process. */
  dataParallel: number;
  /** Send the trained weights back (for folding). */
  keepWeights: boolean;
}

/** A trained network's state dict as plain arrays (what crosses the process boundary). */
export type SavedWeights = { key: string; shape: number[]; values: Float32Array | Int32Array }[];

/** What a finished job returns. */
export interface TrainJobResult {
  record: RunRecord;
  weights: SavedWeights | null;
}

/** Samples per evaluation batch (eval mode: no graph, so large batches are cheap). */
export const EVAL_BATCH = 500;

/** The seed of the data order is offset from the seed of the weights so the two streams differ. */
const DATA_ORDER_SEED_OFFSET = 1_000_003;

/** The network's state dict copied out as plain arrays. */
export async function saveWeights(network: Sequential): Promise<SavedWeights> {
  return Promise.all(
    [...network.stateDict()].map(async ([key, value]) => {
      const data = await value.data();
      const values = data instanceof Int32Array ? Int32Array.from(data) : Float32Array.from(data);
      return { key, shape: [...value.shape], values };
    }),
  );
}

/** Loads {@link saveWeights}' arrays into a network of the same architecture. */
export function loadWeights(network: Sequential, weights: SavedWeights): void {
  const state = new Map<string, Tensor>(
    weights.map(({ key, shape, values }) => [key, tensor(values, { shape })]),
  );
  network.loadStateDict(state);
}

/**
 * A mean training loss above this counts as diverged: cross-entropy 100 means the right class
 * gets probability e^−100 on average (guessing uniformly gives ln 10 ≈ 2.3).
 */
export const DIVERGED_LOSS = 100;

function finiteOrNull(value: number | null): number | null {
  return value !== null && Number.isFinite(value) ? value : null;
}

/** Where a job's progress goes: fit's progress bar and epoch lines, or nowhere. */
export interface TrainJobOptions {
  /** Default: no progress output. */
  progressStream?: NodeJS.WritableStream | null;
}

/**
 * A job's network (SyncBatchNorm in place of BatchNorm when it trains data-parallel), SGD with
 * momentum, cross-entropy, and its loaders: shuffled training batches with the last partial batch
 * dropped, so BatchNorm never sees a single sample, and the test split.
 */
export function jobReplica(job: TrainJob): Replica & { model: Sequential; test: DataLoader } {
  const built = buildNetwork({
    model: job.model,
    variant: job.variant,
    norm: job.norm ?? "batch",
    generator: new Generator(job.seed),
  });
  const model = (job.dataParallel > 1 ? convertSyncBatchnorm(built) : built).to(job.device);
  return {
    model,
    optimizer: new SGD(model.parameters(), { lr: job.lr, momentum: job.momentum }),
    lossFn: F.crossEntropy,
    train: new DataLoader(loadStudySplit(job.dataset, "train", job.trainSize), {
      batchSize: job.batchSize,
      device: job.device,
      shuffle: true,
      dropLast: true,
      generator: new Generator(job.seed + DATA_ORDER_SEED_OFFSET),
    }),
    test: new DataLoader(loadStudySplit(job.dataset, "test", job.testSize), {
      batchSize: EVAL_BATCH,
      device: job.device,
    }),
  };
}

/**
 * Trains one network ({@link jobReplica}) with `fit` from @normgrad/train, or with
 * `fitDataParallel` on `job.dataParallel` worker threads: PyTorch-default initialization from
 * `Generator(seed)`, the test split evaluated after every epoch. A training loss that overflows or exceeds {@link DIVERGED_LOSS} marks
 * the run diverged (overflowed losses are recorded as null; the accuracy is what the broken weights give).
 */
export async function runTrainJob(
  job: TrainJob,
  { progressStream = null }: TrainJobOptions = {},
): Promise<TrainJobResult> {
  const startWall = performance.now();
  const startCpu = process.cpuUsage();
  const { model: network, optimizer, train, test: testLoader } = jobReplica(job);
  const epochs: EpochRecord[] = [];
  let epochStart = performance.now();
  const record = (metrics: EpochMetrics): void => {
    epochs.push({
      epoch: metrics.epoch,
      trainLoss: finiteOrNull(metrics.trainLoss),
      trainAccuracy: metrics.trainAccuracy,
      testLoss: finiteOrNull(metrics.testLoss),
      testAccuracy: metrics.testAccuracy ?? 0,
      seconds: metrics.seconds,
      samplesPerSecond: metrics.samplesPerSec,
    });
    epochStart = performance.now();
  };
  try {
    if (job.dataParallel > 1) {
      const { state } = await fitDataParallel({
        module: new URL("./data-parallel-setup.ts", import.meta.url),
        worldSize: job.dataParallel,
        epochs: job.epochs,
        argument: job,
        onEpochEnd: record,
      });
      network.loadStateDict(state);
    } else {
      await fit(network, {
        train,
        test: testLoader,
        optimizer,
        lossFn: F.crossEntropy,
        epochs: job.epochs,
        progress: progressStream !== null,
        ...(progressStream === null ? {} : { progressStream }),
        onEpochEnd: record,
      });
    }
  } catch (error) {
    if (!(error instanceof NonFiniteStatisticsError)) throw error;
    // The weights overflowed, so BatchNorm refused the batch: the run diverged in this epoch. Its
    // training metrics do not exist; the test metrics are what the broken weights give.
    const seconds = (performance.now() - epochStart) / 1000;
    const evaluation = await evaluate(network, testLoader, F.crossEntropy);
    epochs.push({
      epoch: epochs.length + 1,
      trainLoss: null,
      trainAccuracy: null,
      testLoss: finiteOrNull(evaluation.loss),
      testAccuracy: evaluation.accuracy ?? 0,
      seconds,
      samplesPerSecond: null,
    });
  }
  const diverged = epochs.some((epoch) => epoch.trainLoss === null || epoch.trainLoss > DIVERGED_LOSS);
  const cpu = process.cpuUsage(startCpu);
  return {
    record: {
      model: job.model,
      variant: job.variant,
      norm: job.norm,
      seed: job.seed,
      lr: job.lr,
      batchSize: job.batchSize,
      trainSize: train.dataset.length,
      testSize: testLoader.dataset.length,
      epochs,
      diverged,
      wallSeconds: (performance.now() - startWall) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    },
    weights: job.keepWeights && !diverged ? await saveWeights(network) : null,
  };
}
