// The schema of results/study.json: every run's per-epoch record, the summaries and the verdicts.
import type { Spread, WelchTest } from "./statistics.ts";
import type { DatasetName, ModelKind, NormKind, StudyConfig, StudyMode, Variant } from "./study-config.ts";

/** Bumped when a field changes meaning or disappears. */
export const STUDY_SCHEMA_VERSION = 1;

/** One epoch of one run. Losses are null where they overflowed (a diverged run). */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean cross-entropy over the epoch's training batches, in training mode (as the progress bar shows). */
  trainLoss: number | null;
  /** Accuracy over the epoch's training batches, in training mode; null for an epoch BatchNorm stopped (diverged). */
  trainAccuracy: number | null;
  /** Mean cross-entropy on the test split, in eval mode (BN uses its running statistics). */
  testLoss: number | null;
  testAccuracy: number;
  /** Wall time of the training pass (not the evaluation). */
  seconds: number;
  /** Training samples per second of the training pass; null for an epoch BatchNorm stopped (diverged). */
  samplesPerSecond: number | null;
}

/** One training run: a model, a placement, a normalization, a seed and its hyperparameters. */
export interface RunRecord {
  model: ModelKind;
  variant: Variant;
  /** The normalization layer; null for `none`. */
  norm: NormKind | null;
  seed: number;
  lr: number;
  batchSize: number;
  trainSize: number;
  testSize: number;
  epochs: EpochRecord[];
  /** True when an epoch's training loss overflowed (recorded as null) or exceeded 100. */
  diverged: boolean;
  /** Wall time of the whole run: training, testing after each epoch, setup. */
  wallSeconds: number;
  /**
   * CPU time (user + system) of the training process over the run. Unlike wall time it hardly
   * grows when other programs share the cores, so it estimates the run time on an idle machine.
   */
  cpuSeconds: number;
}

/** Per-epoch mean ± std over seeds. */
export interface EpochSummary {
  epoch: number;
  testAccuracy: Spread;
  /** Null when a seed's loss overflowed at this epoch. */
  testLoss: Spread | null;
  trainLoss: Spread | null;
  trainAccuracy: Spread | null;
}

/** One model × variant of the main comparison, over its seeds. */
export interface VariantSummary {
  model: ModelKind;
  variant: Variant;
  seeds: number[];
  /** Test accuracy after the last epoch. */
  finalTestAccuracy: Spread;
  finalTestLoss: Spread | null;
  finalTrainLoss: Spread | null;
  finalTrainAccuracy: Spread | null;
  secondsPerEpoch: Spread;
  /** CPU seconds of the run (training and testing) per epoch: steadier than wall time on a busy machine. */
  cpuSecondsPerEpoch: Spread;
  samplesPerSecond: Spread;
  divergedRuns: number;
  /** Only the epochs every seed reached. */
  perEpoch: EpochSummary[];
}

/** The winner against one other variant. */
export interface PairComparison {
  variant: Variant;
  /** Winner's mean final test accuracy minus this variant's (a fraction: 0.01 = 1 point). */
  difference: number;
  /** The gap in units of the pooled std `sqrt((s_w² + s_v²)/2)`; null when neither varies. */
  gapInPooledStd: number | null;
  /** Null with fewer than 2 seeds. */
  welch: WelchTest | null;
  /** Whether the gap exceeds the seed spread (the criterion in {@link SPREAD_CRITERION}); null with fewer than 2 seeds. */
  exceedsSpread: boolean | null;
}

/** The verdict for one model. */
export interface ModelComparison {
  model: ModelKind;
  /** The variant with the highest mean final test accuracy (ties: the first in `VARIANTS` order). */
  leader: Variant;
  /** The leader when its lead over every other variant exceeds the seed spread; otherwise null. */
  winner: Variant | null;
  /** Against every other variant, closest first. */
  against: PairComparison[];
  /** One sentence for the table. */
  verdict: string;
}

/** One point of the learning-rate sweep, over its seeds. */
export interface SweepPoint {
  model: ModelKind;
  variant: Variant;
  lr: number;
  finalTestAccuracy: Spread;
  /** Runs whose loss overflowed; their accuracy is what the broken weights give (near chance). */
  divergedRuns: number;
}

/** The learning-rate sweep. */
export interface LrSweepResult {
  epochs: number;
  trainSize: number;
  batchSize: number;
  runs: RunRecord[];
  points: SweepPoint[];
  tolerance: LrTolerance[];
}

/** How far one model × variant tolerates the learning rate in the sweep. */
export interface LrTolerance {
  model: ModelKind;
  variant: Variant;
  /** The rate with the highest mean final test accuracy, and that accuracy. */
  bestLr: number;
  bestAccuracy: number;
  /** The largest rate whose mean accuracy is within 1 point of `bestAccuracy`. */
  largestGoodLr: number;
}

/** One normalization at one batch size of the small-batch run, over its seeds. */
export interface SmallBatchSummary {
  norm: NormKind;
  batchSize: number;
  lr: number;
  finalTestAccuracy: Spread;
  finalTrainAccuracy: Spread | null;
  finalTestLoss: Spread | null;
  secondsPerEpoch: Spread;
  divergedRuns: number;
}

/** The small-batch run: BatchNorm against GroupNorm and LayerNorm. */
export interface SmallBatchResult {
  model: ModelKind;
  batchSizes: number[];
  epochs: number;
  trainSize: number;
  runs: RunRecord[];
  summaries: SmallBatchSummary[];
}

/** One decision of `fuseModel`: a BN folded into a neighbour, or kept and why. */
export interface FusionDecision {
  /** Module names in the Sequential, e.g. ["1", "2"]. */
  modules: string[];
  action: "folded" | "kept";
  reason: string;
}

/** A trained network passed through `fuseModel`: accuracy and inference time before and after. */
export interface FoldingRecord {
  model: ModelKind;
  variant: "bn-relu" | "relu-bn";
  seed: number;
  /** Module names before and after (e.g. Linear, BatchNorm1d, ReLU → Linear, ReLU). */
  layersBefore: string[];
  layersAfter: string[];
  decisions: FusionDecision[];
  /** BatchNorm layers still in the network after folding. */
  batchNormLayersLeft: number;
  testAccuracyBefore: number;
  testAccuracyAfter: number;
  /** Test samples whose predicted class changed (float32 rounding can flip a near tie). */
  predictionsChanged: number;
  maxAbsLogitDifference: number;
  inferenceBatchSize: number;
  /** Median over repeats of the mean wall time of one eval-mode forward pass over a batch. */
  msPerBatchBefore: number;
  msPerBatchAfter: number;
  /** `msPerBatchBefore / msPerBatchAfter`. */
  speedup: number;
  /**
   * `relu-bn` only: the test accuracy when each BN is folded into the layer *before* it anyway,
   * i.e. moved across the ReLU (what folding into the preceding layer would compute); null for `bn-relu`.
   */
  accuracyIfFoldedAcrossRelu: number | null;
}

/** Folding results, and why `relu-bn` cannot fold into the preceding layer. */
export interface FoldingResult {
  records: FoldingRecord[];
  reluBnExplanation: string;
}

/** Where and how the study ran. */
export interface EnvironmentInfo {
  node: string;
  platform: string;
  cpuModel: string;
  cpuCount: number;
  device: string;
  /** Training processes that ran in parallel. */
  workers: number;
}

/** The whole of results/study.json. */
export interface StudyResult {
  schemaVersion: number;
  createdAt: string;
  mode: StudyMode;
  /** The configuration, without the output folder (a machine-specific path). */
  config: Omit<StudyConfig, "outDir">;
  /** The dataset and the samples each model trained on in the main comparison. */
  dataset: { name: DatasetName; trainSize: Partial<Record<ModelKind, number>>; testSize: number };
  environment: EnvironmentInfo;
  /** The criterion behind `exceedsSpread`, in words. */
  spreadCriterion: string;
  runs: RunRecord[];
  summaries: VariantSummary[];
  comparisons: ModelComparison[];
  lrSweep: LrSweepResult | null;
  smallBatch: SmallBatchResult | null;
  folding: FoldingResult | null;
  /** Wall time of the whole study. */
  totalSeconds: number;
  /**
   * CPU seconds: `training` summed over every run (in whichever process ran it), `total` adding
   * this process's own work (data, folding, plots). `total / cores` estimates the wall time on an
   * idle machine with that many cores.
   */
  cpuSeconds: { training: number; total: number };
}

/** The significance level of the spread criterion. */
export const SPREAD_ALPHA = 0.05;

/** The criterion behind `exceedsSpread`, printed in study.md and stored in study.json. */
export const SPREAD_CRITERION =
  `A gap "exceeds the seed spread" when Welch's two-sided t-test on the per-seed final test ` +
  `accuracies gives p < ${SPREAD_ALPHA} (unequal variances; df by Welch–Satterthwaite). With 3 seeds per ` +
  "variant the test has about 2–4 degrees of freedom, so only a gap several times the seeds' std passes. " +
  '"no" means these seeds cannot tell the variants apart, not that they are equal. The gap is also ' +
  "given in units of the pooled std, sqrt((s1² + s2²)/2).";
