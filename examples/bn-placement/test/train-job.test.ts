// A training job that blows up is recorded as diverged, not thrown: one bad run must not end a study; a data-parallel job trains.
import { describe, expect, it } from "vitest";
import { runTrainJob, type TrainJob } from "../src/train-job.ts";

const job: TrainJob = {
  id: 0,
  part: "lr-sweep",
  model: "mlp",
  variant: "bn-relu",
  norm: null,
  seed: 0,
  lr: 1e6,
  momentum: 0.9,
  batchSize: 32,
  epochs: 2,
  dataset: "mnist",
  trainSize: 256,
  testSize: 100,
  device: "cpu",
  dataParallel: 1,
  keepWeights: false,
};

describe("runTrainJob", () => {
  it("records a run whose weights overflow (BatchNorm refuses the batch) as diverged, with the broken weights' test accuracy", async () => {
    const { record } = await runTrainJob(job);
    expect(record.diverged).toBe(true);
    const last = record.epochs.at(-1);
    expect(last?.trainLoss).toBeNull();
    expect(last?.trainAccuracy).toBeNull();
    expect(last?.samplesPerSecond).toBeNull();
    expect(last?.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(last?.testAccuracy).toBeLessThanOrEqual(1);
    expect(record.epochs.length).toBeLessThanOrEqual(job.epochs);
  });

  it("trains a job data-parallel on 2 threads with SyncBatchNorm and returns rank 0's weights", async () => {
    const parallel = {
      ...job,
      part: "main",
      lr: 0.02,
      epochs: 1,
      dataParallel: 2,
      keepWeights: true,
    } as const;
    const { record, weights } = await runTrainJob(parallel);
    expect(record.diverged).toBe(false);
    expect(record.epochs).toHaveLength(1);
    expect(record.epochs[0].samplesPerSecond).toBeGreaterThan(0);
    expect(record.epochs[0].testAccuracy).toBeGreaterThan(0.3);
    expect(weights?.map(({ key }) => key)).toContain("2.running_var");
  });
});
