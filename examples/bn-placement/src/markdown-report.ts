// results/study.md: the study's tables in Markdown, written from a StudyResult.

import { markdownTable } from "@normgrad/plot";
import type { Spread } from "./statistics.ts";
import { MODEL_KINDS, type ModelKind } from "./study-config.ts";
import type { ModelComparison, StudyResult, VariantSummary } from "./study-result.ts";
import { NO_DIFFERENCE } from "./summarize-runs.ts";

/** `97.53 ± 0.12` (percent, 2 decimals); the ± part is left out for a single seed. */
export function formatPercentSpread(spread: Spread | null): string {
  if (spread === null) return "–";
  const center = (spread.mean * 100).toFixed(2);
  return spread.n > 1 ? `${center} ± ${(spread.std * 100).toFixed(2)}` : center;
}

/** `0.0823 ± 0.0041`, `–` for an overflowed loss. */
export function formatLossSpread(spread: Spread | null): string {
  if (spread === null) return "overflow";
  return spread.n > 1 ? `${spread.mean.toFixed(4)} ± ${spread.std.toFixed(4)}` : spread.mean.toFixed(4);
}

function formatNumberSpread(spread: Spread, digits: number): string {
  return spread.n > 1
    ? `${spread.mean.toFixed(digits)} ± ${spread.std.toFixed(digits)}`
    : spread.mean.toFixed(digits);
}

/** A p-value to 3 significant digits, `< 0.001` below. */
export function formatP(p: number): string {
  return p < 0.001 ? "< 0.001" : p.toPrecision(3);
}

const MODEL_TITLES: Record<ModelKind, string> = {
  mlp: "MLP 784 → 256 → 256 → 10 (BatchNorm1d)",
  cnn: "CNN conv3×3 16 → pool → conv3×3 32 → pool → linear (BatchNorm2d)",
};

function mainTable(summaries: readonly VariantSummary[]): string {
  const rows = summaries.map((summary) => [
    summary.variant,
    formatPercentSpread(summary.finalTestAccuracy),
    formatLossSpread(summary.finalTestLoss),
    formatPercentSpread(summary.finalTrainAccuracy),
    formatLossSpread(summary.finalTrainLoss),
    formatNumberSpread(summary.secondsPerEpoch, 2),
    formatNumberSpread(summary.cpuSecondsPerEpoch, 2),
    formatNumberSpread(summary.samplesPerSecond, 0),
    `${summary.divergedRuns}/${summary.seeds.length}`,
  ]);
  return markdownTable(
    [
      "variant",
      "test acc %",
      "test loss",
      "train acc %",
      "train loss",
      "s / epoch",
      "CPU s / epoch",
      "samples / s",
      "diverged",
    ],
    rows,
  );
}

function epochTable(summaries: readonly VariantSummary[]): string {
  const epochs = Math.max(...summaries.map((summary) => summary.perEpoch.length));
  const rows = Array.from({ length: epochs }, (_, i) => [
    String(i + 1),
    ...summaries.map((summary) => {
      const epoch = summary.perEpoch[i];
      return epoch === undefined ? "–" : formatPercentSpread(epoch.testAccuracy);
    }),
  ]);
  return markdownTable(["epoch", ...summaries.map((summary) => `${summary.variant} test acc %`)], rows);
}

/** The verdict under a bold "Winner", "Leader" or "No measurable difference": a winner only where the criterion holds against every variant. */
function verdictLine(comparison: ModelComparison): string {
  if (comparison.winner !== null) return `**Winner: ${comparison.winner}.** ${comparison.verdict}`;
  if (comparison.against.some((pair) => pair.exceedsSpread === true)) {
    return `**Leader: ${comparison.leader}.** ${comparison.verdict}`;
  }
  if (comparison.verdict.startsWith(NO_DIFFERENCE)) {
    return `**${NO_DIFFERENCE}:**${comparison.verdict.slice(NO_DIFFERENCE.length + 1)}`;
  }
  return `**Highest mean: ${comparison.leader}.** ${comparison.verdict}`;
}

/**
 * Where the main comparison shows no measurable difference, the learning-rate sweep is the run's
 * clearest signal: how large a rate each variant tolerates. Null when the sweep did not run.
 */
function sweepSignal(result: StudyResult, model: ModelKind): string | null {
  const tolerance = result.lrSweep?.tolerance.filter((entry) => entry.model === model) ?? [];
  if (tolerance.length === 0) return null;
  const rates = tolerance.map((entry) => `${lrLabel(entry.largestGoodLr)} for ${entry.variant}`).join(", ");
  return (
    "The clearest signal of this run is the learning-rate sweep (below): the largest rate within " +
    `1 point of each variant's best accuracy is ${rates}.`
  );
}

function comparisonTable(comparison: ModelComparison): string {
  const rows = comparison.against.map((pair) => [
    `${comparison.leader} vs ${pair.variant}`,
    (pair.difference * 100).toFixed(2),
    pair.gapInPooledStd === null ? "–" : pair.gapInPooledStd.toFixed(1),
    pair.welch === null ? "–" : Number.isFinite(pair.welch.t) ? pair.welch.t.toFixed(2) : "∞",
    pair.welch === null ? "–" : pair.welch.df.toFixed(1),
    pair.welch === null ? "–" : formatP(pair.welch.p),
    pair.exceedsSpread === null ? "unknown" : pair.exceedsSpread ? "**yes**" : "no",
  ]);
  return markdownTable(
    ["comparison", "gap (points)", "gap / pooled std", "Welch t", "df", "p", "exceeds seed spread"],
    rows,
  );
}

function lrLabel(lr: number): string {
  return String(Number(lr.toPrecision(6)));
}

function sweepSection(result: StudyResult): string[] {
  const sweep = result.lrSweep;
  if (sweep === null) return [];
  const lines = [
    "## Learning-rate sweep",
    "",
    `Final test accuracy (%) after ${sweep.epochs} epoch(s) on ${sweep.trainSize} training samples, batch ` +
      `${sweep.batchSize}, SGD momentum ${result.config.momentum}, seeds ${result.config.lrSweep.seeds.join(", ")}. ` +
      "A run whose training loss overflowed or exceeded 100 is marked (diverged).",
    "",
  ];
  for (const model of MODEL_KINDS) {
    const points = sweep.points.filter((point) => point.model === model);
    if (points.length === 0) continue;
    const variants = [...new Set(points.map((point) => point.variant))];
    const lrs = [...new Set(points.map((point) => point.lr))].sort((a, b) => a - b);
    const rows = lrs.map((lr) => [
      lrLabel(lr),
      ...variants.map((variant) => {
        const point = points.find((candidate) => candidate.variant === variant && candidate.lr === lr);
        if (point === undefined) return "–";
        const cell = formatPercentSpread(point.finalTestAccuracy);
        return point.divergedRuns > 0
          ? `${cell} (diverged ${point.divergedRuns}/${point.finalTestAccuracy.n})`
          : cell;
      }),
    ]);
    lines.push(`### ${MODEL_TITLES[model]}`, "", markdownTable(["lr", ...variants], rows), "");
    const tolerance = sweep.tolerance.filter((entry) => entry.model === model);
    lines.push(
      markdownTable(
        ["variant", "best lr", "best acc %", "largest lr within 1 point of best"],
        tolerance.map((entry) => [
          entry.variant,
          lrLabel(entry.bestLr),
          (entry.bestAccuracy * 100).toFixed(2),
          lrLabel(entry.largestGoodLr),
        ]),
      ),
      "",
    );
  }
  return lines;
}

function smallBatchSection(result: StudyResult): string[] {
  const small = result.smallBatch;
  if (small === null) return [];
  const rows = small.summaries.map((summary) => [
    String(summary.batchSize),
    lrLabel(summary.lr),
    summary.norm,
    formatPercentSpread(summary.finalTestAccuracy),
    formatPercentSpread(summary.finalTrainAccuracy),
    formatLossSpread(summary.finalTestLoss),
    formatNumberSpread(summary.secondsPerEpoch, 2),
    `${summary.divergedRuns}/${summary.finalTestAccuracy.n}`,
  ]);
  return [
    "## Small batches: BatchNorm vs GroupNorm vs LayerNorm",
    "",
    `${MODEL_TITLES[small.model].split(" (")[0]} with the normalization before each ReLU, ${small.epochs} ` +
      `epoch(s) on ${small.trainSize} training samples, seeds ${small.runs.length > 0 ? [...new Set(small.runs.map((run) => run.seed))].join(", ") : "–"}; ` +
      "the learning rate scales linearly with the batch size. In training, BatchNorm normalizes each channel " +
      `with the mean and variance of the batch${small.model === "mlp" ? " (b values per feature: with b = 2 every normalized value is ±1, up to ε)" : ""}, ` +
      "and at test time with running averages of those noisy estimates; GroupNorm and LayerNorm normalize " +
      "each sample by itself, the same way in training and at test time. Test accuracy is measured in eval " +
      "mode; train accuracy is the running average over the epoch's batches in training mode.",
    "",
    markdownTable(
      ["batch", "lr", "norm", "test acc %", "train acc % (running)", "test loss", "s / epoch", "diverged"],
      rows,
    ),
    "",
  ];
}

function foldingSection(result: StudyResult): string[] {
  const folding = result.folding;
  if (folding === null) return [];
  const lines = [
    "## Folding BatchNorm after training",
    "",
    "`fuseModel` folds each eval-mode BatchNorm into an adjacent layer: into the Linear/Conv2d before it " +
      "(`W' = W·γ/√(σ²+ε)`, `b' = (b − μ)·γ/√(σ²+ε) + β`) or, for a BatchNorm1d followed by a Linear, " +
      "forward into that Linear. Accuracy and logits are compared on the whole test split; inference " +
      "time is the median over repeats of an eval-mode forward pass per batch.",
    "",
  ];
  if (folding.records.length > 0) {
    lines.push(
      markdownTable(
        [
          "network",
          "layers before → after",
          "BN left",
          "test acc % before",
          "after",
          "changed predictions",
          "max |Δ logit|",
          "ms / batch before",
          "after",
          "speedup",
        ],
        folding.records.map((record) => [
          `${record.model} ${record.variant} (seed ${record.seed})`,
          `${record.layersBefore.length} → ${record.layersAfter.length}`,
          String(record.batchNormLayersLeft),
          (record.testAccuracyBefore * 100).toFixed(2),
          (record.testAccuracyAfter * 100).toFixed(2),
          String(record.predictionsChanged),
          record.maxAbsLogitDifference.toExponential(1),
          record.msPerBatchBefore.toFixed(2),
          record.msPerBatchAfter.toFixed(2),
          `${record.speedup.toFixed(2)}×`,
        ]),
      ),
      "",
      `Batches of ${folding.records[0].inferenceBatchSize} test samples.` +
        (folding.records.some((record) => record.layersBefore.length === record.layersAfter.length)
          ? " Where `fuseModel` changed nothing (same layer count), both timings are of the same modules: " +
            "that row's speedup shows the timing noise."
          : ""),
      "",
    );
  }
  const reluBn = folding.records.filter((record) => record.variant === "relu-bn");
  if (reluBn.length > 0) {
    lines.push("### Why relu-bn does not fold into the preceding layer", "", folding.reluBnExplanation, "");
    for (const record of reluBn) {
      const forced = record.accuracyIfFoldedAcrossRelu;
      lines.push(
        `- **${record.model}**: folding each BN into the layer before the ReLU anyway gives ` +
          `${forced === null ? "–" : `${(forced * 100).toFixed(2)}%`} test accuracy instead of ` +
          `${(record.testAccuracyBefore * 100).toFixed(2)}%. What \`fuseModel\` did:`,
      );
      for (const decision of record.decisions) {
        lines.push(`  - ${decision.action} ${decision.modules.join(" + ")}: ${decision.reason}`);
      }
    }
    lines.push("");
  }
  return lines;
}

/** The plots study.md embeds, by file stem (each exists as .svg and .png). */
export interface ReportPlot {
  stem: string;
  title: string;
}

/**
 * The whole of study.md: the setup, the main table and the verdict per model, per-epoch test
 * accuracy, the learning-rate sweep, the small-batch run, folding, and the plots.
 */
export function renderStudyMarkdown(result: StudyResult, plots: readonly ReportPlot[]): string {
  const { config, dataset, environment } = result;
  const lines = [
    "# BatchNorm placement on MNIST: none vs BN → ReLU vs ReLU → BN",
    "",
    `Mode **${result.mode}**: dataset \`${dataset.name}\`, training samples ` +
      `${config.models.map((model) => `${model} ${dataset.trainSize[model] ?? "–"}`).join(", ")}, ${dataset.testSize} test ` +
      `samples; seeds ${config.seeds.join(", ")}; SGD lr ${lrLabel(config.lr)}, momentum ${config.momentum}, batch ` +
      `${config.batchSize}; epochs ${config.models.map((model) => `${model} ${config.epochs[model]}`).join(", ")}.`,
    `Ran on ${environment.cpuModel} (${environment.cpuCount} cores), Node ${environment.node}, device ` +
      `${environment.device}, ${environment.workers} training process(es) in parallel, in ${result.totalSeconds.toFixed(0)} s wall time and ` +
      `${result.cpuSeconds.total.toFixed(0)} s CPU time (${result.createdAt}).`,
    "",
    "Mean ± sample std over seeds. Test metrics are measured in eval mode after each epoch; train " +
      "metrics are averaged over the epoch's batches in training mode. `s / epoch` and `samples / s` " +
      "time the training pass on the wall clock, so they grow when other programs share the cores; " +
      "`CPU s / epoch` is the run's CPU time (training and testing) per epoch, which hardly does.",
    "",
  ];
  for (const model of MODEL_KINDS) {
    const summaries = result.summaries.filter((summary) => summary.model === model);
    if (summaries.length === 0) continue;
    const comparison = result.comparisons.find((candidate) => candidate.model === model);
    lines.push(`## ${MODEL_TITLES[model]}`, "", mainTable(summaries), "");
    if (comparison !== undefined) {
      lines.push(verdictLine(comparison), "");
      const signal = comparison.against.every((pair) => pair.exceedsSpread === false)
        ? sweepSignal(result, model)
        : null;
      if (signal !== null) lines.push(signal, "");
      if (comparison.against.length > 0) lines.push(comparisonTable(comparison), "");
    }
    lines.push("Test accuracy per epoch:", "", epochTable(summaries), "");
  }
  lines.push(`*Criterion:* ${result.spreadCriterion}`, "");
  lines.push(...sweepSection(result), ...smallBatchSection(result), ...foldingSection(result));
  if (plots.length > 0) {
    lines.push("## Plots", "");
    for (const plot of plots) lines.push(`![${plot.title}](${plot.stem}.png) ([SVG](${plot.stem}.svg))`, "");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}
