/**
 * Fit/evaluate, the training loop with a progress bar and JSON Lines metrics.
 * @module @normgrad/train
 */
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
