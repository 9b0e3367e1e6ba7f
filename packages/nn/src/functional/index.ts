/**
 * The functional API (`F`): stateless forms of the layers and losses (`F.batchNorm`, `F.crossEntropy`, …).
 * @packageDocumentation
 */
export type { DropoutOptions, SoftplusOptions } from "./activation.ts";
export {
  dropout,
  elu,
  gelu,
  hardswish,
  leakyRelu,
  logSoftmax,
  mish,
  prelu,
  relu,
  sigmoid,
  silu,
  softmax,
  softplus,
  tanh,
} from "./activation.ts";
export type { BatchNormOptions } from "./batch-norm.ts";
export { batchNorm } from "./batch-norm.ts";
export type { Conv2dOptions, Conv2dPadding } from "./conv.ts";
export { conv2d } from "./conv.ts";
export type { GroupNormOptions } from "./group-norm.ts";
export { groupNorm } from "./group-norm.ts";
export type { InstanceNormOptions } from "./instance-norm.ts";
export { instanceNorm } from "./instance-norm.ts";
export type { LayerNormOptions } from "./layer-norm.ts";
export { layerNorm } from "./layer-norm.ts";
export { linear } from "./linear.ts";
export type {
  BceOptions,
  BceWithLogitsOptions,
  CrossEntropyOptions,
  KlDivOptions,
  KlDivReduction,
  NllLossOptions,
} from "./loss.ts";
export {
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  huberLoss,
  klDiv,
  l1Loss,
  mseLoss,
  nllLoss,
  smoothL1Loss,
} from "./loss.ts";
export type { AdaptiveSize, AvgPool2dOptions, MaxPool2dOptions } from "./pooling.ts";
export { adaptiveAvgPool2d, avgPool2d, maxPool2d, maxPool2dWithIndices } from "./pooling.ts";
export type { IntPair, Reduction } from "./validate.ts";
