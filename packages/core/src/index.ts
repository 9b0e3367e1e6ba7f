/**
 * Tensors, autograd, the CPU backend, RNG and gradcheck.
 * @module @normgrad/core
 */
export type { BackwardFunction } from "./autograd.ts";
export { enableGrad, GradNode, isGradEnabled, noGrad } from "./autograd.ts";
export type {
  AdamStepOptions,
  AdamStepState,
  ArithmeticOp,
  AvgPool2dParams,
  Backend,
  BinaryOp,
  CompareOp,
  Conv2dKernelParams,
  Conv2dParams,
  CrossEntropyKernelOptions,
  Device,
  DeviceBuffer,
  NormBackwardOptions,
  NormForwardOptions,
  Padding,
  Pool2dParams,
  ReduceOp,
  SgdStepOptions,
  UnaryOp,
  View,
} from "./backend.ts";
export type { ValueCheck } from "./check-values.ts";
export { checkValues, synchronize } from "./check-values.ts";
export { CpuBackend } from "./cpu/cpu-backend.ts";
export { CpuBuffer, cpuData } from "./cpu/cpu-buffer.ts";
export {
  getNumThreads,
  getThreadsUnavailableReason,
  setNumThreads,
  whenThreadsReady,
} from "./cpu/thread-pool.ts";
export { configureWasmElementwise } from "./cpu/wasm-elementwise.ts";
export { canUseWasmGemm, configureWasmGemm } from "./cpu/wasm-gemm.ts";
export { configureWasmNorm } from "./cpu/wasm-norm.ts";
export { configureWasmPool2d } from "./cpu/wasm-pool2d.ts";
export type { NestedValues, TensorOptions } from "./creation.ts";
export {
  arange,
  eye,
  fromValues,
  full,
  fullLike,
  linspace,
  ones,
  onesLike,
  tensor,
  zeros,
  zerosLike,
} from "./creation.ts";
export type { CustomOpSpec } from "./define-op.ts";
export { defineOp } from "./define-op.ts";
export { getBackend, liveBuffers, registerBackend } from "./devices.ts";
export type { DType, TypedArray, TypedArrayOf } from "./dtype.ts";
export { allocateTypedArray, DTYPES, isFloating, isMaskDtype, promoteTypes } from "./dtype.ts";
export { einsum } from "./einsum.ts";
export { formatValue } from "./format.ts";
export type { NormalizeOptions, NormalizeResult } from "./fused.ts";
export {
  canFuseAdamStep,
  canFuseCrossEntropy,
  canFuseNormalize,
  canFuseRunningStatistics,
  canFuseSgdStep,
  canUpdateRunningStatisticsOnDevice,
  deviceRunningStatistics,
  fusedAdamStep,
  fusedCrossEntropy,
  fusedNormalize,
  fusedRunningStatistics,
  fusedSgdStep,
} from "./fused.ts";
export type { GradOptions } from "./grad.ts";
export { grad } from "./grad.ts";
export type { GradcheckInputReport, GradcheckOptions } from "./gradcheck.ts";
export { gradcheck, gradgradcheck } from "./gradcheck.ts";
export type { TensorContainer } from "./memory.ts";
export { keep, tidy } from "./memory.ts";
export type { Moments, MomentsOptions, VarianceAlgorithm } from "./moments.ts";
export { moments } from "./moments.ts";
export type { NormBlocks, NormLayout, NormStatistics } from "./norm-layout.ts";
export { normBlocks } from "./norm-layout.ts";
export type { NormOrder } from "./norms.ts";
export { matrixNorm, norm, vectorNorm } from "./norms.ts";
export { cat, matmul, stack, where } from "./ops.ts";
export type { Primitive, PrimitiveParams } from "./primitives.ts";
export type { RandomOptions } from "./random.ts";
export {
  defaultGenerator,
  Generator,
  manualSeed,
  rand,
  randint,
  randLike,
  randn,
  randnLike,
  randperm,
} from "./random.ts";
export { indexAdd, scatter, scatterAdd } from "./scatter.ts";
export type { Shape } from "./shape.ts";
export {
  broadcastShapes,
  contiguousStrides,
  formatList,
  formatShape,
  normalizeAxes,
  normalizeAxis,
  shapeSize,
  shapesEqual,
} from "./shape.ts";
export { argsort, sort, topk } from "./sort.ts";
export { Storage } from "./storage.ts";
export type { BackwardOptions, GradHook, NestedArray, RemovableHandle, TensorLike } from "./tensor.ts";
export { Tensor } from "./tensor.ts";
