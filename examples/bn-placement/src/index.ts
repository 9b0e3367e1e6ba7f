// The BatchNorm-placement study as a library: configuration, the run, the result schema and its summaries.
export type { NetworkSpec } from "./build-network.ts";
export { buildNetwork, GROUP_NORM_CHANNELS_PER_GROUP } from "./build-network.ts";
export type { TrainedNetwork } from "./fold-networks.ts";
export { foldAcrossRelu, measureFolding, RELU_BN_EXPLANATION } from "./fold-networks.ts";
export type { JobPoolOptions } from "./job-pool.ts";
export { runJobs } from "./job-pool.ts";
export type { ReportPlot } from "./markdown-report.ts";
export { formatLossSpread, formatP, formatPercentSpread, renderStudyMarkdown } from "./markdown-report.ts";
export type { ParsedStudyArgs, ParseStudyArgsOptions } from "./parse-study-args.ts";
export { parseStudyArgs, STUDY_USAGE, StudyArgsError } from "./parse-study-args.ts";
export { DeviceUnavailableError, GPU_PACKAGE, prepareDevice } from "./prepare-device.ts";
export type { RunStudyOptions, StudyOutput } from "./run-study.ts";
export { runStudy, STUDY_FILES } from "./run-study.ts";
export type { Spread, WelchTest } from "./statistics.ts";
export {
  logGamma,
  mean,
  regularizedIncompleteBeta,
  sampleStd,
  spreadOf,
  studentTTwoSidedP,
  welchTTest,
} from "./statistics.ts";
export { accuracyVsEpochChart, accuracyVsLrChart, lossCurvesChart, smallBatchChart } from "./study-charts.ts";
export type {
  DatasetName,
  FoldingConfig,
  LrSweepConfig,
  ModelKind,
  NormKind,
  SmallBatchConfig,
  StudyConfig,
  StudyDevice,
  StudyMode,
  StudyPart,
  StudyPreset,
  Variant,
} from "./study-config.ts";
export { MODEL_KINDS, NORM_KINDS, STUDY_PARTS, studyPreset, VARIANTS } from "./study-config.ts";
export { loadStudySplit, stratifiedSubset } from "./study-data.ts";
export type { StudyJobs } from "./study-jobs.ts";
export { jobCost, jobLabel, planStudyJobs } from "./study-jobs.ts";
export type {
  EnvironmentInfo,
  EpochRecord,
  EpochSummary,
  FoldingRecord,
  FoldingResult,
  FusionDecision,
  LrSweepResult,
  LrTolerance,
  ModelComparison,
  PairComparison,
  RunRecord,
  SmallBatchResult,
  SmallBatchSummary,
  StudyResult,
  SweepPoint,
  VariantSummary,
} from "./study-result.ts";
export { SPREAD_ALPHA, SPREAD_CRITERION, STUDY_SCHEMA_VERSION } from "./study-result.ts";
export {
  compareVariants,
  finalEpoch,
  summarizeSmallBatch,
  summarizeSweep,
  summarizeVariants,
} from "./summarize-runs.ts";
export type { JobPart, SavedWeights, TrainJob, TrainJobOptions, TrainJobResult } from "./train-job.ts";
export { DIVERGED_LOSS, loadWeights, runTrainJob, saveWeights } from "./train-job.ts";
