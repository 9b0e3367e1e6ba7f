// Summaries over seeds, the winner and its spread verdict, the sweep's tolerance and the Markdown report.
import { describe, expect, it } from "vitest";
import { renderStudyMarkdown } from "../src/markdown-report.ts";
import { type ModelKind, type NormKind, studyPreset, type Variant } from "../src/study-config.ts";
import { type RunRecord, SPREAD_CRITERION, type StudyResult } from "../src/study-result.ts";
import {
  compareVariants,
  summarizeSmallBatch,
  summarizeSweep,
  summarizeVariants,
} from "../src/summarize-runs.ts";

interface RunSpec {
  model?: ModelKind;
  variant?: Variant;
  norm?: NormKind | null;
  seed?: number;
  lr?: number;
  /** Test accuracy after each epoch. */
  accuracies: number[];
  diverged?: boolean;
}

function makeRun({
  model = "mlp",
  variant = "none",
  norm = null,
  seed = 0,
  lr = 0.05,
  accuracies,
  diverged = false,
}: RunSpec): RunRecord {
  return {
    model,
    variant,
    norm,
    seed,
    lr,
    batchSize: 64,
    trainSize: 1000,
    testSize: 500,
    diverged,
    wallSeconds: 3,
    cpuSeconds: 2,
    epochs: accuracies.map((testAccuracy, i) => ({
      epoch: i + 1,
      trainLoss: diverged && i === accuracies.length - 1 ? null : 1 - testAccuracy,
      trainAccuracy: testAccuracy + 0.01,
      testLoss: diverged && i === accuracies.length - 1 ? null : 1.1 - testAccuracy,
      testAccuracy,
      seconds: 2 + seed,
      samplesPerSecond: 1000 / (2 + seed),
    })),
  };
}

/** Three seeds per variant: bn-relu clearly ahead of none, relu-bn within the spread of bn-relu. */
const mainRuns: RunRecord[] = [
  ...[0.9, 0.905, 0.91].map((last, seed) => makeRun({ variant: "none", seed, accuracies: [0.8, last] })),
  ...[0.97, 0.975, 0.972].map((last, seed) =>
    makeRun({ variant: "bn-relu", norm: "batch", seed, accuracies: [0.9, last] }),
  ),
  ...[0.96, 0.978, 0.968].map((last, seed) =>
    makeRun({ variant: "relu-bn", norm: "batch", seed, accuracies: [0.9, last] }),
  ),
];

describe("summarizeVariants", () => {
  const summaries = summarizeVariants(mainRuns);

  it("gives mean ± std of the last epoch per variant, in variant order", () => {
    expect(summaries.map((summary) => summary.variant)).toEqual(["none", "bn-relu", "relu-bn"]);
    expect(summaries[1].finalTestAccuracy.mean).toBeCloseTo(0.9723333333, 9);
    expect(summaries[1].finalTestAccuracy.std).toBeCloseTo(0.0025166114784, 9);
    expect(summaries[1].secondsPerEpoch.mean).toBe(3);
    expect(summaries[1].perEpoch).toHaveLength(2);
    expect(summaries[1].perEpoch[0].testAccuracy).toMatchObject({ mean: 0.9, std: 0, n: 3 });
  });

  it("keeps only the epochs every seed reached and nulls overflowed losses", () => {
    const runs = [
      makeRun({ seed: 0, accuracies: [0.5, 0.6, 0.7] }),
      makeRun({ seed: 1, accuracies: [0.5, 0.1], diverged: true }),
    ];
    const [summary] = summarizeVariants(runs);
    expect(summary.perEpoch).toHaveLength(2);
    expect(summary.finalTestLoss).toBeNull();
    expect(summary.divergedRuns).toBe(1);
  });
});

describe("compareVariants", () => {
  const [comparison] = compareVariants(mainRuns, summarizeVariants(mainRuns));

  it("names the leader, tests every other variant against it, closest first, and names no winner on a partial lead", () => {
    expect(comparison.leader).toBe("bn-relu");
    expect(comparison.winner).toBeNull();
    expect(comparison.against.map((pair) => pair.variant)).toEqual(["relu-bn", "none"]);
    const [reluBn, none] = comparison.against;
    expect(reluBn.exceedsSpread).toBe(false);
    expect(none.exceedsSpread).toBe(true);
    expect(none.difference).toBeCloseTo(0.0673333333, 9);
    expect(none.welch?.p).toBeLessThan(0.05);
    expect(comparison.verdict).toContain("bn-relu beats none beyond the seed spread");
    expect(comparison.verdict).toContain("relu-bn (0.37 points)");
  });

  it("names a winner when its lead over every variant exceeds the spread", () => {
    const runs = mainRuns.filter((run) => run.variant !== "relu-bn");
    const [clear] = compareVariants(runs, summarizeVariants(runs));
    expect(clear).toMatchObject({ leader: "bn-relu", winner: "bn-relu" });
    expect(clear.verdict).toBe("bn-relu wins: its lead over none exceeds the seed spread.");
  });

  it("says there is no measurable difference on an exact tie, and names no winner", () => {
    const runs = (["none", "bn-relu", "relu-bn"] as const).flatMap((variant) =>
      [0.9, 0.91, 0.92].map((last, seed) => makeRun({ variant, seed, accuracies: [last] })),
    );
    const [tie] = compareVariants(runs, summarizeVariants(runs));
    expect(tie.winner).toBeNull();
    expect(tie.against.map((pair) => pair.welch?.p)).toEqual([1, 1]);
    expect(tie.verdict).toBe(
      "No measurable difference: bn-relu is 0.00 points behind none, relu-bn is 0.00 points behind none, " +
        "within the seed spread.",
    );
    expect(tie.verdict).not.toMatch(/win/i);
  });

  it("cannot judge the spread with one seed", () => {
    const runs = [
      makeRun({ variant: "none", accuracies: [0.9] }),
      makeRun({ variant: "bn-relu", accuracies: [0.95] }),
    ];
    const [single] = compareVariants(runs, summarizeVariants(runs));
    expect(single.against[0]).toMatchObject({ welch: null, exceedsSpread: null, gapInPooledStd: null });
    expect(single.verdict).toContain("fewer than 2 seeds");
  });
});

describe("summarizeSweep", () => {
  it("finds the best rate and the largest rate within 1 point of it", () => {
    const runs = [
      makeRun({ variant: "none", lr: 0.01, accuracies: [0.9] }),
      makeRun({ variant: "none", lr: 0.1, accuracies: [0.95] }),
      makeRun({ variant: "none", lr: 1, accuracies: [0.1], diverged: true }),
      makeRun({ variant: "bn-relu", lr: 0.01, accuracies: [0.93] }),
      makeRun({ variant: "bn-relu", lr: 0.1, accuracies: [0.96] }),
      makeRun({ variant: "bn-relu", lr: 1, accuracies: [0.955] }),
    ];
    const { points, tolerance } = summarizeSweep(runs);
    expect(points).toHaveLength(6);
    expect(points.find((point) => point.variant === "none" && point.lr === 1)?.divergedRuns).toBe(1);
    expect(tolerance).toEqual([
      { model: "mlp", variant: "none", bestLr: 0.1, bestAccuracy: 0.95, largestGoodLr: 0.1 },
      { model: "mlp", variant: "bn-relu", bestLr: 0.1, bestAccuracy: 0.96, largestGoodLr: 1 },
    ]);
  });
});

describe("summarizeSmallBatch", () => {
  it("summarises each batch size × normalization, batch sizes ascending, in batch, group, layer order", () => {
    const runs = [64, 4].flatMap((batchSize) =>
      (["layer", "batch", "group"] as const).map((norm, i) => ({
        ...makeRun({ variant: "bn-relu", norm, accuracies: [0.8 + i / 100 + batchSize / 1000] }),
        batchSize,
      })),
    );
    const rows = summarizeSmallBatch(runs).map((summary) => [
      summary.batchSize,
      summary.norm,
      summary.finalTestAccuracy.mean,
    ]);
    expect(rows).toEqual([
      [4, "batch", expect.closeTo(0.814, 12)],
      [4, "group", expect.closeTo(0.824, 12)],
      [4, "layer", expect.closeTo(0.804, 12)],
      [64, "batch", expect.closeTo(0.874, 12)],
      [64, "group", expect.closeTo(0.884, 12)],
      [64, "layer", expect.closeTo(0.864, 12)],
    ]);
  });
});

describe("renderStudyMarkdown", () => {
  const summaries = summarizeVariants(mainRuns);
  const { outDir: _outDir, ...config } = { ...studyPreset("default"), outDir: "" };
  const result: StudyResult = {
    schemaVersion: 1,
    createdAt: "2026-01-01T00:00:00.000Z",
    mode: "default",
    config: { ...config, models: ["mlp"] },
    dataset: { name: "mnist", trainSize: { mlp: 1000 }, testSize: 500 },
    environment: {
      node: "v20",
      platform: "linux",
      cpuModel: "Test CPU",
      cpuCount: 2,
      device: "cpu",
      workers: 1,
    },
    spreadCriterion: SPREAD_CRITERION,
    runs: mainRuns,
    summaries,
    comparisons: compareVariants(mainRuns, summaries),
    lrSweep: null,
    smallBatch: null,
    folding: {
      records: [
        {
          model: "mlp",
          variant: "relu-bn",
          seed: 0,
          layersBefore: ["Flatten", "Linear", "ReLU", "BatchNorm1d", "Linear"],
          layersAfter: ["Flatten", "Linear", "ReLU", "Linear"],
          decisions: [{ modules: ["3", "4"], action: "folded", reason: "folded forward" }],
          batchNormLayersLeft: 0,
          testAccuracyBefore: 0.97,
          testAccuracyAfter: 0.97,
          predictionsChanged: 0,
          maxAbsLogitDifference: 1e-6,
          inferenceBatchSize: 256,
          msPerBatchBefore: 2,
          msPerBatchAfter: 1.5,
          speedup: 4 / 3,
          accuracyIfFoldedAcrossRelu: 0.4,
        },
      ],
      reluBnExplanation: "ReLU sits between.",
    },
    totalSeconds: 12.3,
    cpuSeconds: { training: 10, total: 11 },
  };
  const markdown = renderStudyMarkdown(result, [{ stem: "accuracy-vs-epoch", title: "Test accuracy" }]);

  it("writes the main table with mean ± std in percent", () => {
    expect(markdown).toContain("| bn-relu | 97.23 ± 0.25 |");
    expect(markdown).toContain("| s / epoch | CPU s / epoch | samples / s |");
    expect(markdown).toContain("**Leader: bn-relu.** bn-relu beats none beyond the seed spread");
    expect(markdown).not.toContain("Winner");
    expect(markdown).toContain("| bn-relu vs none | 6.73 |");
  });

  it("explains the criterion and the folding, and links the plots", () => {
    expect(markdown).toContain("Welch's two-sided t-test");
    expect(markdown).toContain(
      "### Why relu-bn does not fold into the preceding layer\n\nReLU sits between.",
    );
    expect(markdown).toContain("gives 40.00% test accuracy instead of 97.00%");
    expect(markdown).toContain(
      "| mlp relu-bn (seed 0) | 5 → 4 | 0 | 97.00 | 97.00 | 0 | 1.0e-6 | 2.00 | 1.50 | 1.33× |",
    );
    expect(markdown).toContain("![Test accuracy](accuracy-vs-epoch.png) ([SVG](accuracy-vs-epoch.svg))");
    expect(markdown).not.toContain("CNN");
  });

  it("on no measurable difference, says so and points to the learning-rate sweep", () => {
    const tiedRuns = (["none", "bn-relu"] as const).flatMap((variant) =>
      [0.9, 0.91].map((last, seed) => makeRun({ variant, seed, accuracies: [last] })),
    );
    const sweepRuns = [
      makeRun({ variant: "none", lr: 0.1, accuracies: [0.95] }),
      makeRun({ variant: "none", lr: 1, accuracies: [0.1], diverged: true }),
      makeRun({ variant: "bn-relu", lr: 0.1, accuracies: [0.96] }),
      makeRun({ variant: "bn-relu", lr: 1, accuracies: [0.955] }),
    ];
    const tiedSummaries = summarizeVariants(tiedRuns);
    const tied = renderStudyMarkdown(
      {
        ...result,
        runs: tiedRuns,
        summaries: tiedSummaries,
        comparisons: compareVariants(tiedRuns, tiedSummaries),
        lrSweep: { epochs: 1, trainSize: 1000, batchSize: 64, runs: sweepRuns, ...summarizeSweep(sweepRuns) },
      },
      [],
    );
    expect(tied).toContain(
      "**No measurable difference:** bn-relu is 0.00 points behind none, within the seed spread.",
    );
    expect(tied).toContain(
      "The clearest signal of this run is the learning-rate sweep (below): the largest rate within 1 point of " +
        "each variant's best accuracy is 0.1 for none, 1 for bn-relu.",
    );
    expect(tied).not.toContain("Winner");
  });
});
