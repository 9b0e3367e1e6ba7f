// The study's plots as Vega-Lite specs (via @normgrad/plot): accuracy per epoch, loss curves, accuracy vs lr.
import { type DataRow, lineChart } from "@normgrad/plot";
import { MODEL_KINDS, type ModelKind, NORM_KINDS, VARIANTS } from "./study-config.ts";
import type { RunRecord } from "./study-result.ts";

type ChartSpec = ReturnType<typeof lineChart>;

const MODEL_NAMES: Record<ModelKind, string> = { mlp: "MLP", cnn: "CNN" };

function modelsIn(runs: readonly RunRecord[]): string[] {
  return MODEL_KINDS.filter((model) => runs.some((run) => run.model === model)).map(
    (model) => MODEL_NAMES[model],
  );
}

/**
 * Gives each panel its own axes: the models train for different numbers of epochs and reach
 * different accuracies, so shared scales would squeeze one panel's curves into a sliver.
 */
function withIndependentScales(spec: ChartSpec): ChartSpec {
  return { ...spec, resolve: { scale: { x: "independent", y: "independent" } } };
}

function seedCount(runs: readonly RunRecord[]): number {
  return new Set(runs.map((run) => run.seed)).size;
}

/** Test accuracy (%) after each epoch, one line per variant: the mean over seeds with a ±1 std band; a panel per model. */
export function accuracyVsEpochChart(runs: readonly RunRecord[]): ChartSpec {
  const data: DataRow[] = runs.flatMap((run) =>
    run.epochs.map((epoch) => ({
      model: MODEL_NAMES[run.model],
      variant: run.variant,
      seed: run.seed,
      epoch: epoch.epoch,
      accuracy: epoch.testAccuracy * 100,
    })),
  );
  return withIndependentScales(
    lineChart({
      title: "Test accuracy per epoch",
      subtitle: `mean over ${seedCount(runs)} seeds, band = ±1 std`,
      data,
      x: { field: "epoch", title: "epoch", format: "d" },
      y: { field: "accuracy", title: "test accuracy (%)" },
      color: { field: "variant", title: "variant", order: [...VARIANTS] },
      facet: { field: "model", title: null, order: modelsIn(runs) },
      band: "stdev",
      points: true,
      width: 340,
      height: 240,
    }),
  );
}

/**
 * Train and test loss after each epoch (log scale), one colour per variant, a panel per model ×
 * split; the mean over seeds with a min–max band (mean − std can fall below zero, where a log axis
 * has no place). Overflowed losses are left out.
 */
export function lossCurvesChart(runs: readonly RunRecord[]): ChartSpec {
  const panelOf = (model: ModelKind, split: string) => `${MODEL_NAMES[model]}: ${split} loss`;
  const data: DataRow[] = runs.flatMap((run) =>
    run.epochs.flatMap((epoch) => {
      const rows: DataRow[] = [];
      const base = { variant: run.variant, seed: run.seed, epoch: epoch.epoch };
      if (epoch.trainLoss !== null)
        rows.push({ ...base, panel: panelOf(run.model, "train"), loss: epoch.trainLoss });
      if (epoch.testLoss !== null)
        rows.push({ ...base, panel: panelOf(run.model, "test"), loss: epoch.testLoss });
      return rows;
    }),
  );
  const models = MODEL_KINDS.filter((model) => runs.some((run) => run.model === model));
  return withIndependentScales(
    lineChart({
      title: "Cross-entropy loss per epoch",
      subtitle: `mean over ${seedCount(runs)} seeds, band = min–max; train: mean over the epoch's batches`,
      data,
      x: { field: "epoch", title: "epoch", format: "d" },
      y: { field: "loss", title: "cross-entropy loss", scale: "log" },
      color: { field: "variant", title: "variant", order: [...VARIANTS] },
      facet: {
        field: "panel",
        title: null,
        order: models.flatMap((model) => [panelOf(model, "train"), panelOf(model, "test")]),
        columns: 2,
      },
      band: "minmax",
      points: true,
      width: 340,
      height: 220,
    }),
  );
}

/** Final test accuracy (%) against the learning rate (log scale), one line per variant, a panel per model. */
export function accuracyVsLrChart(runs: readonly RunRecord[], epochs: number, momentum: number): ChartSpec {
  const data: DataRow[] = runs.map((run) => ({
    model: MODEL_NAMES[run.model],
    variant: run.variant,
    seed: run.seed,
    lr: run.lr,
    accuracy: (run.epochs.at(-1)?.testAccuracy ?? 0) * 100,
  }));
  const seeds = seedCount(runs);
  return lineChart({
    title: "Final test accuracy vs learning rate",
    subtitle:
      `${epochs} epoch(s), SGD momentum ${momentum}, ` +
      (seeds > 1 ? `mean over ${seeds} seeds, band = min–max` : "1 seed") +
      "; a diverged run scores near chance",
    data,
    x: { field: "lr", title: "learning rate", scale: "log" },
    y: { field: "accuracy", title: "final test accuracy (%)", domain: [0, 100] },
    color: { field: "variant", title: "variant", order: [...VARIANTS] },
    facet: { field: "model", title: null, order: modelsIn(runs) },
    band: "minmax",
    points: true,
    width: 340,
    height: 240,
  });
}

/**
 * Final test accuracy (%, eval mode) of the small-batch run against the batch size (log scale),
 * one line per normalization; mean over seeds with a min–max band.
 */
export function smallBatchChart(runs: readonly RunRecord[], epochs: number): ChartSpec {
  const data: DataRow[] = runs.map((run) => ({
    norm: run.norm ?? "none",
    seed: run.seed,
    batchSize: run.batchSize,
    accuracy: (run.epochs.at(-1)?.testAccuracy ?? 0) * 100,
  }));
  const seeds = seedCount(runs);
  const sizes = runs.map((run) => run.batchSize);
  return lineChart({
    title: "BatchNorm vs GroupNorm vs LayerNorm across batch sizes",
    subtitle:
      `${MODEL_NAMES[runs[0]?.model ?? "mlp"]}, norm before each ReLU, ${epochs} epoch(s), lr ∝ batch size; ` +
      (seeds > 1 ? `mean over ${seeds} seeds, band = min–max` : "1 seed"),
    data,
    x: {
      field: "batchSize",
      title: "batch size",
      scale: "log",
      domain: [Math.min(...sizes), Math.max(...sizes)],
    },
    y: { field: "accuracy", title: "final test accuracy (%, eval mode)" },
    color: { field: "norm", title: "normalization", order: [...NORM_KINDS] },
    band: "minmax",
    points: true,
    width: 420,
    height: 260,
  });
}
