/**
 * Fit/evaluate, the training loop with a progress bar and JSON Lines metrics, and data-parallel
 * training over worker threads (`fitDataParallel`).
 * @module @normgrad/train
 */
export { fitDataParallel } from "#data-parallel";
export type {
  DataParallelOptions,
  DataParallelResult,
  Replica,
  ReplicaContext,
  ReplicaSetup,
} from "./data-parallel-protocol.ts";
export type {
  EpochMetrics,
  EvaluationResult,
  FitOptions,
  LossFunction,
  SteppableScheduler,
  TrainableOptimizer,
} from "./fit.ts";
export { evaluate, fit } from "./fit.ts";
export type { ProgressValues } from "./progress.ts";
export { EpochProgress } from "./progress.ts";
export type { ProgressStream } from "./progress-bar-types.ts";
export type { SharedMemory } from "./shared-memory-group.ts";
export {
  abortSharedMemory,
  createSharedMemory,
  ProcessGroupAbortedError,
  SharedMemoryProcessGroup,
} from "./shared-memory-group.ts";
