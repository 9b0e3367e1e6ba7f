// The study's job list: counts per part, scaled small-batch rates, weights kept for folding, labels.
import { describe, expect, it } from "vitest";
import { parseStudyArgs } from "../src/parse-study-args.ts";
import type { StudyConfig } from "../src/study-config.ts";
import { jobCost, jobLabel, planStudyJobs } from "../src/study-jobs.ts";

function configOf(argv: string[]): StudyConfig {
  const parsed = parseStudyArgs(argv, { cwd: "/", defaultOutDir: "/out" });
  if (parsed.command !== "run") throw new Error("expected a run");
  return parsed.config;
}

describe("planStudyJobs", () => {
  const config = configOf([]);
  const jobs = planStudyJobs(config);

  it("plans models × variants × seeds, the sweep and the small-batch grid", () => {
    expect(jobs.main).toHaveLength(2 * 3 * 3);
    expect(jobs.lrSweep).toHaveLength(config.lrSweep.models.length * 3 * 5 * config.lrSweep.seeds.length);
    expect(jobs.smallBatch).toHaveLength(
      config.smallBatch.batchSizes.length * 3 * config.smallBatch.seeds.length,
    );
    const ids = [...jobs.main, ...jobs.lrSweep, ...jobs.smallBatch].map((job) => job.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("keeps the weights of the first seed's normalized main runs for folding", () => {
    const kept = jobs.main
      .filter((job) => job.keepWeights)
      .map((job) => `${job.model} ${job.variant} ${job.seed}`);
    expect(kept).toEqual(["mlp bn-relu 0", "mlp relu-bn 0", "cnn bn-relu 0", "cnn relu-bn 0"]);
  });

  it("scales the small-batch rate linearly with the batch size", () => {
    for (const job of jobs.smallBatch) {
      expect(job.lr).toBeCloseTo((config.lr * job.batchSize) / config.batchSize, 12);
      expect(job.variant).toBe("bn-relu");
    }
  });

  it("uses each model's own subset and epochs", () => {
    const cnn = jobs.main.find((job) => job.model === "cnn");
    expect(cnn).toMatchObject({ trainSize: config.trainSize.cnn, epochs: config.epochs.cnn });
  });

  it("plans nothing for skipped parts and no weights without folding", () => {
    const skipped = planStudyJobs(configOf(["--skip", "lr-sweep,small-batch,folding"]));
    expect([skipped.lrSweep.length, skipped.smallBatch.length]).toEqual([0, 0]);
    expect(skipped.main.some((job) => job.keepWeights)).toBe(false);
  });
});

describe("jobCost and jobLabel", () => {
  const [mlp, cnn] = [...planStudyJobs(configOf(["--train-size", "1000", "--epochs", "1"])).main].filter(
    (job, i, all) => all.findIndex((other) => other.model === job.model) === i,
  );

  it("rates a CNN sample dearer than an MLP sample", () => {
    expect(jobCost(cnn)).toBeGreaterThan(jobCost(mlp));
  });

  it("labels each part", () => {
    const jobs = planStudyJobs(configOf([]));
    expect(jobLabel(jobs.main[0])).toBe("main mlp none seed 0");
    expect(jobLabel(jobs.lrSweep[0])).toBe("lr-sweep mlp none lr 0.01 seed 0");
    expect(jobLabel(jobs.smallBatch[0])).toBe("small-batch mlp batch-norm batch 2 seed 0");
  });
});
