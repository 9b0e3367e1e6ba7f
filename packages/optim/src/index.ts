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
export type { CyclicLROptions } from "./cyclic-lr.ts";
export { CyclicLR } from "./cyclic-lr.ts";
export type {
  CosineAnnealingLROptions,
  CosineAnnealingWarmRestartsOptions,
  CosineAnnealingWarmRestartsStateDict,
  ExponentialLROptions,
  LambdaLROptions,
  LinearLROptions,
  LRSchedulerStateDict,
  LrLambda,
  MultiStepLROptions,
  OneCycleLROptions,
  SchedulableOptimizer,
  SequentialLROptions,
  SequentialLRStateDict,
  StepLROptions,
} from "./lr-scheduler.ts";
export {
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  LRScheduler,
  MultiStepLR,
  OneCycleLR,
  SequentialLR,
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
export type { ReduceLROnPlateauOptions, ReduceLROnPlateauStateDict } from "./reduce-lr-on-plateau.ts";
export { ReduceLROnPlateau } from "./reduce-lr-on-plateau.ts";
export type { RMSpropOptions, RMSpropState } from "./rmsprop.ts";
export { RMSprop } from "./rmsprop.ts";
export type { SGDOptions, SGDState } from "./sgd.ts";
export { SGD } from "./sgd.ts";
