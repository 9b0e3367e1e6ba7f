// @normgrad/benchmarks: the W1–W5 runner, its timing harness, and the RESULTS.md report generator.
export type { BackendConfig, BackendName } from "./backend-configs.ts";
export { BACKEND_CONFIGS, isBackendName } from "./backend-configs.ts";
export { describeEnvironment, loadAverage } from "./environment.ts";
export { HARDWARE_LIMITS_FILE, readHardwareLimits, readResultDirectory } from "./read-result-files.ts";
export type { HardwareLimits, ReportInput, SourcedFile } from "./report-tables.ts";
export { buildReport, formatNumber } from "./report-tables.ts";
export type {
  BenchResult,
  Environment,
  MicroResult,
  ResultFile,
  Stat,
  TrainingResult,
  TrainingRun,
  WorkloadId,
} from "./result-format.ts";
export { isTrainingResult, mapStat, summarize } from "./result-format.ts";
export type { RunOptions, RunOutcome, SkippedConfig } from "./run-benchmarks.ts";
export { runBenchmarks, writeResultFiles } from "./run-benchmarks.ts";
export type { CallTimes, TimedCall, TimingOptions } from "./timing.ts";
export { cpuTimeMs, PEER_TIMING, timeCalls } from "./timing.ts";
export type { WorkloadOptions } from "./workloads/index.ts";
export { defaultWorkloads, isWorkloadId } from "./workloads/index.ts";
export { MATMUL_SIZES, matmulWorkload } from "./workloads/matmul.ts";
export { MNIST_CNN, MNIST_MLP, trainingWorkload } from "./workloads/mnist-models.ts";
export { batchNormWorkload, layerGroupNormWorkload } from "./workloads/normalization.ts";
export type { StepPhase, Trainer, TrainingOptions, TrainingSpec } from "./workloads/training.ts";
export { createTrainer, SKIP_STEPS, trainingStep } from "./workloads/training.ts";
export type { Workload, WorkloadContext, WorkPerCall } from "./workloads/workload.ts";
