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
export type { ScaledDotProductAttentionOptions } from "./attention.ts";
export { scaledDotProductAttention } from "./attention.ts";
export type { BatchNormOptions } from "./batch-norm.ts";
export { batchNorm } from "./batch-norm.ts";
export type { Conv1dOptions, Conv1dPadding, Conv2dOptions, Conv2dPadding, ConvPaddingMode } from "./conv.ts";
export { conv1d, conv2d } from "./conv.ts";
export type { ConvTranspose2dOptions } from "./conv-transpose.ts";
export { convTranspose2d } from "./conv-transpose.ts";
export type { EmbeddingOptions } from "./embedding.ts";
export { embedding } from "./embedding.ts";
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
export type { PadMode } from "./padding.ts";
export { pad } from "./padding.ts";
export type {
  AdaptiveSize,
  AvgPool1dOptions,
  AvgPool2dOptions,
  MaxPool1dOptions,
  MaxPool2dOptions,
} from "./pooling.ts";
export {
  adaptiveAvgPool2d,
  adaptiveMaxPool2d,
  avgPool1d,
  avgPool2d,
  maxPool1d,
  maxPool1dWithIndices,
  maxPool2d,
  maxPool2dWithIndices,
} from "./pooling.ts";
export type { InterpolateMode, InterpolateOptions } from "./upsample.ts";
export { interpolate } from "./upsample.ts";
export type { IntPair, Reduction } from "./validate.ts";
