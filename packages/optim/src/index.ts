/**
 * SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, learning-rate schedulers and gradient clipping.
 * @module @normgrad/optim
 */
export type { AdadeltaOptions, AdadeltaState } from "./adadelta.ts";
export { Adadelta } from "./adadelta.ts";
export type { AdagradOptions, AdagradState } from "./adagrad.ts";
export { Adagrad } from "./adagrad.ts";
export type { AdamInit, AdamOptions, AdamState } from "./adam.ts";
export { Adam, AdamW } from "./adam.ts";
export type { ClipGradNormOptions } from "./clip-grad.ts";
export { clipGradNorm, clipGradValue } from "./clip-grad.ts";
export type {
  CosineAnnealingLROptions,
  ExponentialLROptions,
  LinearLROptions,
  LRSchedulerStateDict,
  MultiStepLROptions,
  OneCycleLROptions,
  SchedulableOptimizer,
  StepLROptions,
} from "./lr-scheduler.ts";
export {
  CosineAnnealingLR,
  ExponentialLR,
  LinearLR,
  LRScheduler,
  MultiStepLR,
  OneCycleLR,
  StepLR,
} from "./lr-scheduler.ts";
export type {
  BaseOptions,
  OptimizerParams,
  OptimizerStateDict,
  ParamGroup,
  ParamGroupSpec,
  ParamState,
  SavedState,
} from "./optimizer.ts";
export { Optimizer } from "./optimizer.ts";
export type { RMSpropOptions, RMSpropState } from "./rmsprop.ts";
export { RMSprop } from "./rmsprop.ts";
export type { SGDOptions, SGDState } from "./sgd.ts";
export { SGD } from "./sgd.ts";
