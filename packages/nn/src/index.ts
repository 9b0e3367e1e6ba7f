/**
 * Modules, layers, losses, init, and state dicts saved as safetensors.
 * @module @normgrad/nn
 */
import * as F from "./functional/index.ts";
import * as init from "./init.ts";

export { NonFiniteStatisticsError } from "./functional/batch-norm.ts";
export type { KlDivReduction } from "./functional/loss.ts";
export type { ChannelMoments } from "./functional/sync-batch-norm.ts";
export { channelMoments, mergeMoments } from "./functional/sync-batch-norm.ts";
export type { FactoryOptions, IntPair, Reduction } from "./functional/validate.ts";
export type { FusionNote, FusionResult } from "./fusion.ts";
export { fuseBnLinear, fuseConvBn, fuseLinearBn, fuseModel } from "./fusion.ts";
export type {
  FanMode,
  InitOptions,
  KaimingOptions,
  Nonlinearity,
  OrthogonalOptions,
  TruncNormalOptions,
  XavierOptions,
} from "./init.ts";
export {
  ELU,
  GELU,
  Hardswish,
  LeakyReLU,
  LogSoftmax,
  Mish,
  PReLU,
  ReLU,
  Sigmoid,
  SiLU,
  Softmax,
  Softplus,
  Tanh,
} from "./layers/activation.ts";
export type {
  MultiheadAttentionForwardOptions,
  MultiheadAttentionOptions,
  TransformerEncoderForwardOptions,
  TransformerEncoderLayerOptions,
} from "./layers/attention.ts";
export {
  MultiheadAttention,
  NonDynamicallyQuantizableLinear,
  TransformerEncoder,
  TransformerEncoderLayer,
} from "./layers/attention.ts";
export type { NormLayerOptions } from "./layers/batch-norm.ts";
export { BatchNorm, BatchNorm1d, BatchNorm2d, BatchNorm3d, NormBase } from "./layers/batch-norm.ts";
export type { TensorModule } from "./layers/container.ts";
export { ModuleDict, ModuleList, ParameterList, Sequential } from "./layers/container.ts";
export type { ConvTranspose2dLayerOptions } from "./layers/conv-transpose2d.ts";
export { ConvTranspose2d } from "./layers/conv-transpose2d.ts";
export type { Conv1dLayerOptions } from "./layers/conv1d.ts";
export { Conv1d } from "./layers/conv1d.ts";
export type { Conv2dLayerOptions } from "./layers/conv2d.ts";
export { Conv2d } from "./layers/conv2d.ts";
export { Dropout } from "./layers/dropout.ts";
export type { EmbeddingLayerOptions } from "./layers/embedding.ts";
export { Embedding } from "./layers/embedding.ts";
export { Flatten, Identity } from "./layers/flatten.ts";
export type { GroupNormLayerOptions } from "./layers/group-norm.ts";
export { GroupNorm } from "./layers/group-norm.ts";
export { InstanceNorm, InstanceNorm1d, InstanceNorm2d } from "./layers/instance-norm.ts";
export type { LayerNormLayerOptions } from "./layers/layer-norm.ts";
export { LayerNorm } from "./layers/layer-norm.ts";
export { Linear } from "./layers/linear.ts";
export type { ClassLossOptions } from "./layers/loss.ts";
export {
  BCELoss,
  BCEWithLogitsLoss,
  CrossEntropyLoss,
  HuberLoss,
  KLDivLoss,
  L1Loss,
  MSELoss,
  NLLLoss,
  SmoothL1Loss,
} from "./layers/loss.ts";
export type { MaxPool2dOutput } from "./layers/pooling.ts";
export {
  AdaptiveAvgPool2d,
  AdaptiveMaxPool2d,
  AvgPool1d,
  AvgPool2d,
  MaxPool1d,
  MaxPool2d,
} from "./layers/pooling.ts";
export type { RecurrentOptions, RNNCellOptions, RNNOptions } from "./layers/rnn.ts";
export { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from "./layers/rnn.ts";
export type { SyncBatchNormOptions } from "./layers/sync-batch-norm.ts";
export { convertSyncBatchnorm, SyncBatchNorm } from "./layers/sync-batch-norm.ts";
export { Upsample } from "./layers/upsample.ts";
export type { AnyModule, LoadStateDictOptions, LoadStateDictResult } from "./module.ts";
export { Buffer, Module, Parameter, StateDict, stateKeyOf } from "./module.ts";
export type { ProcessGroup } from "./process-group.ts";
export { allGather, destroyProcessGroup, getProcessGroup, initProcessGroup } from "./process-group.ts";
export { formatPythonBool, formatPythonFloat, formatPythonTuple, indentNested } from "./repr.ts";
export type { SaveOptions, SaveSource } from "./safetensors.ts";
export {
  download,
  fromBlob,
  fromBytes,
  load,
  MAX_HEADER_BYTES,
  SafetensorsError,
  save,
  toBlob,
  toBytes,
} from "./safetensors.ts";
export { F, init };
