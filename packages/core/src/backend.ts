// The Backend interface every device implements: storage plus a small set of compute kernels.
import type { DType, TypedArray } from "./dtype.ts";
import type { NormLayout, NormStatistics } from "./norm-layout.ts";
import type { Shape } from "./shape.ts";

export type { NormLayout, NormStatistics } from "./norm-layout.ts";

/** The devices normgrad knows. `cpu` is always present; `gpu` is registered by `@normgrad/gpu`. */
export type Device = "cpu" | "gpu";

/** A block of device memory holding `size` elements of `dtype`. Tensors share buffers through views. */
export interface DeviceBuffer {
  readonly device: Device;
  readonly dtype: DType;
  readonly size: number;
}

/** A strided window onto a buffer: element (i0, i1, …) lives at `offset + Σ ik·strides[k]`. */
export interface View {
  readonly buffer: DeviceBuffer;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

/** Elementwise functions of one input. */
export type UnaryOp =
  | "neg"
  | "exp"
  | "log"
  | "sqrt"
  | "recip"
  | "tanh"
  | "sigmoid"
  | "relu"
  | "abs"
  | "sign"
  | "erf"
  | "sin"
  | "cos"
  | "atan"
  | "log1p"
  | "expm1";

/** Arithmetic of two inputs; the result has the promoted dtype. */
export type ArithmeticOp = "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum";

/** Comparisons of two inputs; the result is a bool mask (0s and 1s, one byte each on the CPU). */
export type CompareOp = "eq" | "ne" | "lt" | "le" | "gt" | "ge";

/** Every elementwise function of two inputs. */
export type BinaryOp = ArithmeticOp | CompareOp;

/** Reductions over a set of axes. `argmax`/`argmin` reduce one axis and return int32 indices. */
export type ReduceOp = "sum" | "max" | "min" | "argmax" | "argmin";

/** Per-axis (before, after) padding. */
export type Padding = readonly (readonly [number, number])[];

/** Options of the fused normalization forward. */
export interface NormForwardOptions {
  readonly eps: number;
  /** Statistics to normalize with (running statistics in eval mode), or null to compute them from x. */
  readonly statistics: NormStatistics<View> | null;
}

/** Options of the fused normalization backward. */
export interface NormBackwardOptions {
  readonly eps: number;
  /** True when the statistics came from x itself, so dx carries their gradient too. */
  readonly statisticsFromInput: boolean;
  /** Which gradients to compute; the others come back null. */
  readonly needs: { readonly input: boolean; readonly weight: boolean; readonly bias: boolean };
}

/**
 * One SGD step, as `torch.optim.SGD`. With g = ±∇p (− when maximizing) + λ·p:
 *
 *     b ← g on the first step, else μ·b + (1 − τ)·g      (only with a momentum buffer)
 *     p ← p − lr·(g + μ·b if nesterov, else b)            (p ← p − lr·g without one)
 */
export interface SgdStepOptions {
  readonly lr: number;
  /** Momentum factor μ (0: no buffer). */
  readonly momentum: number;
  /** Dampening τ of the buffer's new-gradient term. */
  readonly dampening: number;
  readonly nesterov: boolean;
  /** L2 penalty λ added to the gradient. */
  readonly weightDecay: number;
  readonly maximize: boolean;
  /** The first step with momentum: the buffer starts as the gradient itself (no dampening). */
  readonly firstStep: boolean;
}

/**
 * One Adam/AdamW step, as `torch.optim.Adam`/`AdamW`. With g = ±∇p (− when maximizing), plus λ·p
 * for Adam (`decoupledWeightDecay` false):
 *
 *     p ← p·(1 − lr·λ)                                     (AdamW only, before the moments read p)
 *     m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
 *     v̂ ← max(v̂, v) with amsgrad, else v
 *     p ← p − lr/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + eps)
 */
export interface AdamStepOptions {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Weight decay λ: an L2 term (Adam) or decoupled (AdamW). */
  readonly weightDecay: number;
  /** AdamW: decay the parameter (p ← p·(1 − lr·λ)) instead of adding λ·p to the gradient. */
  readonly decoupledWeightDecay: boolean;
  readonly amsgrad: boolean;
  readonly maximize: boolean;
  /** The step number t ≥ 1 (after this step's increment), for the bias corrections. */
  readonly step: number;
}

/**
 * Adam's per-parameter state, each the parameter's size: the moments and AMSGrad's running
 * maximum, as device buffers (`T` = `DeviceBuffer`, what kernels get) or tensors (the fused step).
 */
export interface AdamStepState<T = DeviceBuffer> {
  readonly expAvg: T;
  readonly expAvgSq: T;
  /** Null without AMSGrad (v is then used directly). */
  readonly maxExpAvgSq: T | null;
}

/** Options of the fused cross-entropy: rows whose target is `ignoreIndex` are left out. */
export interface CrossEntropyKernelOptions {
  readonly ignoreIndex: number;
  /** "mean" divides the summed loss by the number of rows counted. */
  readonly reduction: "mean" | "sum";
}

/** Geometry of a 2-D convolution over NCHW input; pairs are (height, width). */
export interface Conv2dParams {
  readonly stride: readonly [number, number];
  /** Zero padding per spatial axis as (before, after): `[[top, bottom], [left, right]]`. */
  readonly padding: readonly [readonly [number, number], readonly [number, number]];
  readonly dilation: readonly [number, number];
  readonly groups: number;
}

/**
 * What the convolution kernels get: the geometry plus the output's spatial size
 * `OH = ⌊(H + pad − dilation·(KH − 1) − 1)/stride⌋ + 1` (likewise OW), resolved once by the
 * `conv2d` primitive so no backend repeats the formula.
 */
export interface Conv2dKernelParams extends Conv2dParams {
  readonly outputSize: readonly [number, number];
}

/** Geometry of a 2-D pooling window over NCHW input; pairs are (height, width). */
export interface Pool2dParams {
  readonly kernelSize: readonly [number, number];
  readonly stride: readonly [number, number];
  /** Implicit padding on both sides (−∞ for max pooling, 0 for average pooling). */
  readonly padding: readonly [number, number];
  /** Spacing of the window's taps (max pooling; 1 for average pooling). */
  readonly dilation: readonly [number, number];
  /** The output's spatial size (it depends on `ceilMode`, which the frontend resolves). */
  readonly outputSize: readonly [number, number];
}

/** Average pooling adds how the divisor is counted. */
export interface AvgPool2dParams extends Pool2dParams {
  /** Divide by the window clipped to the padded input (true) or to the real input (false). */
  readonly countIncludePad: boolean;
  /** A fixed divisor replacing the window size, or null. */
  readonly divisorOverride: number | null;
}

/**
 * What a device must supply. Inputs are strided views; every kernel returns a fresh contiguous
 * buffer. Shapes are already checked and broadcast by the frontend (broadcast inputs arrive as
 * views with stride 0), so a backend never validates user input.
 */
export interface Backend {
  readonly device: Device;
  /** The dtypes this backend computes in; others are refused by the frontend with a clear error. */
  readonly dtypes: readonly DType[];

  /** Copies host values into a new buffer. */
  upload(values: TypedArray): DeviceBuffer;
  /** A new buffer of `size` elements all equal to `value`. */
  full(size: number, value: number, dtype: DType): DeviceBuffer;
  /**
   * True where `read` works: results are ready when a kernel returns (CPU, GPU.js's synchronous
   * modes). False where they arrive later (GPU.js webgpu, webasm with threads): values are then
   * read with `readAsync` only (`await data()`; value checks too, see `checkValues`).
   */
  readonly readsSynchronously: boolean;
  /**
   * True where autograd may release each gradient it made as soon as it has consumed it, and the
   * temporaries of each VJP as the VJP returns: the CPU backend reuses released arrays, which
   * saves the page faults of fresh ones. False on GPU.js: its WebGL kernels recycle an output
   * texture whose handles were all released, and released early that recycling overwrote
   * textures a later kernel still read (wrong gradients in the parity tests); there gradients
   * wait for the garbage collector.
   */
  readonly releasesGradientsEagerly: boolean;
  /** A contiguous row-major host copy of a view; throws where the device cannot read synchronously. */
  read(view: View): TypedArray;
  /** A contiguous row-major host copy of a view. */
  readAsync(view: View): Promise<TypedArray>;
  /** Frees a buffer; using it afterwards is a bug the frontend prevents. */
  release(buffer: DeviceBuffer): void;
  /** Buffers allocated and not yet released (for leak tests). */
  liveBuffers(): number;
  /** Overwrites every element of `target` with `source` (same size and dtype): in-place updates. */
  writeInto(target: DeviceBuffer, source: DeviceBuffer): void;

  /** Applies `op` to every element of `x`, computing and storing in `dtype`. */
  unary(op: UnaryOp, x: View, dtype: DType): DeviceBuffer;
  /** `a` and `b` have the same shape; `dtype` is the computation dtype (comparisons still return int32). */
  binary(op: BinaryOp, a: View, b: View, dtype: DType): DeviceBuffer;
  /** `condition ≠ 0 ? a : b` elementwise; the three views have the same shape, the result is in `dtype`. */
  where(condition: View, a: View, b: View, dtype: DType): DeviceBuffer;
  /** Reduces `axes` (sorted); the result has those axes removed. */
  reduce(op: ReduceOp, x: View, axes: readonly number[]): DeviceBuffer;
  /** Batched `a @ b` for `a` (…, M, K) and `b` (…, K, N) with equal batch dims. */
  matmul(a: View, b: View, dtype: DType): DeviceBuffer;
  /** A contiguous copy, converted to `dtype`. */
  copy(x: View, dtype: DType): DeviceBuffer;
  /** A copy of `x` widened by `padding` (before, after) on each axis, the new elements set to `value`. */
  pad(x: View, padding: Padding, value: number): DeviceBuffer;
  /** Concatenates views that agree on every axis but `axis`. */
  cat(xs: readonly View[], axis: number, dtype: DType): DeviceBuffer;
  /** `out[i][j][k] = x[i][index[i][j][k]][k]` for `axis` 1 (torch.gather); the result has index's shape. */
  gather(x: View, axis: number, index: View): DeviceBuffer;
  /** The adjoint of gather: zeros of `shape`, then `out[…index…] += source`. */
  scatterAdd(source: View, axis: number, index: View, shape: Shape): DeviceBuffer;

  // Convolution and pooling take contiguous NCHW views (the frontend makes them so) of one float dtype.
  /** Cross-correlation of x (N, C, H, W) with weight (O, C/groups, KH, KW), no bias: (N, O, OH, OW). */
  conv2d(x: View, weight: View, params: Conv2dKernelParams): DeviceBuffer;
  /** The gradient of conv2d w.r.t. its input, from dy (N, O, OH, OW): (N, C, H, W) = `inputShape`. */
  conv2dInputGrad(dy: View, weight: View, inputShape: Shape, params: Conv2dKernelParams): DeviceBuffer;
  /** The gradient of conv2d w.r.t. its weight, summed over the batch: `weightShape`. */
  conv2dWeightGrad(x: View, dy: View, weightShape: Shape, params: Conv2dKernelParams): DeviceBuffer;
  /**
   * Max over each window: values (N, C, OH, OW) and int32 indices of the maxima, flat `h·W + w`
   * within each (n, c) plane (PyTorch's `return_indices`); the first maximum wins, NaN propagates.
   */
  maxPool2d(x: View, params: Pool2dParams): { values: DeviceBuffer; indices: DeviceBuffer };
  /**
   * Routes dy back to the recorded maxima: zeros of `inputShape`, then `dx[index] += dy`.
   * `params` are the forward's, so a backend may find each pixel's windows directly.
   */
  maxPool2dBackward(dy: View, indices: View, inputShape: Shape, params: Pool2dParams): DeviceBuffer;
  /** Mean over each window (N, C, OH, OW). */
  avgPool2d(x: View, params: AvgPool2dParams): DeviceBuffer;
  /** Spreads dy evenly over each window's input pixels: `inputShape`. */
  avgPool2dBackward(dy: View, inputShape: Shape, params: AvgPool2dParams): DeviceBuffer;

  /**
   * Optional fused normalization forward (BatchNorm, LayerNorm, GroupNorm, InstanceNorm):
   * `y = (x − μ)/√(σ² + eps)·weight[c] + bias[c]`, with a null weight meaning 1 and a null bias 0.
   * Returns the output in x's dtype and, when the statistics were computed (not given), the mean
   * and biased variance in the most precise dtype the backend has. Without it, the frontend
   * composes the same op from the kernels above.
   */
  normForward?(
    x: View,
    layout: NormLayout,
    weight: View | null,
    bias: View | null,
    options: NormForwardOptions,
  ): { output: DeviceBuffer; statistics: NormStatistics<DeviceBuffer> | null };
  /** Optional fused backward of `normForward`: dx (x's dtype), dweight and dbias (per channel). */
  normBackward?(
    dy: View,
    x: View,
    layout: NormLayout,
    weight: View | null,
    statistics: NormStatistics<View>,
    options: NormBackwardOptions,
  ): { dx: DeviceBuffer | null; dweight: DeviceBuffer | null; dbias: DeviceBuffer | null };

  /**
   * Optional fused update of running statistics (BatchNorm's), in place on `running`'s whole
   * buffers: `next = (1 − momentum)·running + momentum·batch`, with the batch variance times
   * `varianceScale` (n/(n − 1), the unbiased variance), computed in float64 and rounded to the
   * running buffers' dtype. Written only when every batch statistic and every rounded next value
   * is finite; returns the next values (float64, for the caller's error message) and whether they
   * were written. The caller (`fusedRunningStatistics`) bumps the versions.
   */
  updateRunningStatistics?(
    running: NormStatistics<DeviceBuffer>,
    batch: NormStatistics<View>,
    options: { readonly momentum: number; readonly varianceScale: number },
  ): { next: NormStatistics<Float64Array>; written: boolean };
  /**
   * Optional twin of `updateRunningStatistics` for devices where a read waits for the device
   * (GPU.js): the same update in the running buffers' dtype, written only when every batch
   * statistic and every next value is finite, judged on the device. Reads nothing back: returns
   * a one-element float32 buffer, 1 when the update was refused and 0 when it was written.
   */
  updateRunningStatisticsOnDevice?(
    running: NormStatistics<DeviceBuffer>,
    batch: NormStatistics<View>,
    options: { readonly momentum: number; readonly varianceScale: number },
  ): DeviceBuffer;

  /**
   * Optional fused cross-entropy of logits x (N, C) against int32 class indices t (N):
   * `loss = Σ_i (lse_i − x[i, t_i])` over the rows whose t_i is not `ignoreIndex`, divided by
   * their count for "mean", with `lse_i = log Σ_c exp(x[i, c])`. Also returns `rows`, N + 2
   * float32 values for the backward and the value check: lse per row, the count of rows
   * counted, then 1 if a counted target lies outside [0, C) (else 0). Reads nothing back.
   * Without it the frontend composes log-softmax and the NLL gather.
   */
  crossEntropyForward?(
    x: View,
    target: View,
    options: CrossEntropyKernelOptions,
  ): { loss: DeviceBuffer; rows: DeviceBuffer };
  /**
   * Optional backward of `crossEntropyForward`: `dx[i, c] = (exp(x[i, c] − lse_i) − [c = t_i])·g`
   * with g = dy (a one-element view), divided by the count for "mean", and 0 on ignored rows.
   */
  crossEntropyBackward?(
    dy: View,
    x: View,
    target: View,
    rows: View,
    options: CrossEntropyKernelOptions,
  ): DeviceBuffer;

  /**
   * Optional fused SGD step, in place on `param` and `momentumBuffer` (null without momentum):
   * the update of `SgdStepOptions`. Both are whole buffers of the parameter's size and dtype;
   * `grad` has the parameter's shape. Without it, optimizers compose the update from tensor ops.
   * The caller (`fusedSgdStep`) bumps the storages' versions, as in-place ops do.
   */
  sgdStep?(
    param: DeviceBuffer,
    grad: View,
    momentumBuffer: DeviceBuffer | null,
    options: SgdStepOptions,
  ): void;
  /**
   * Optional fused Adam/AdamW step, in place on `param` and the buffers of `state`: the update of
   * `AdamStepOptions`. Same contract as `sgdStep`.
   */
  adamStep?(param: DeviceBuffer, grad: View, state: AdamStepState, options: AdamStepOptions): void;
}
