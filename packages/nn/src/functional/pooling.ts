// Functional pooling: 2-D and 1-D max (optionally with indices) and average, adaptive average and max.
import { formatShape, formatValue, type Pool2dParams, stack, type Tensor } from "@normgrad/core";
import { avgPool2d as avgPoolKernel, maxPool2d as maxPoolKernel } from "@normgrad/core/internal";
import { assertFloat, type IntPair, toPair } from "./validate.ts";

/** Options of `maxPool2d`. */
export interface MaxPool2dOptions {
  /** Default: the kernel size (null too, as PyTorch's `stride=None`). */
  stride?: IntPair | null;
  /** Implicit −∞ padding on both sides, at most half the kernel; default 0. */
  padding?: IntPair;
  /** Spacing of the window's taps; default 1. */
  dilation?: IntPair;
  /** Round the output size up instead of down (a window must still start inside the input or left padding); default false. */
  ceilMode?: boolean;
}

/** Options of `avgPool2d`. */
export interface AvgPool2dOptions {
  /** Default: the kernel size (null too). */
  stride?: IntPair | null;
  /** Implicit zero padding on both sides, at most half the kernel; default 0. */
  padding?: IntPair;
  /** Default false. */
  ceilMode?: boolean;
  /** Count padding zeros in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
  /** Divide by this instead of the window size; default null. */
  divisorOverride?: number | null;
}

/**
 * PyTorch's pooling output size: `⌊(in + 2·pad − dilation·(k − 1) − 1 + (ceil ? stride − 1 : 0))/stride⌋ + 1`,
 * minus one when ceil mode would start the last window beyond the input and left padding.
 */
function pooledSize(
  size: number,
  kernel: number,
  stride: number,
  pad: number,
  dilation: number,
  ceil: boolean,
) {
  const span = dilation * (kernel - 1) + 1;
  let out = Math.floor((size + 2 * pad - span + (ceil ? stride - 1 : 0)) / stride) + 1;
  if (ceil && (out - 1) * stride >= size + pad) out--;
  return out;
}

function resolvePool(
  op: string,
  x: Tensor,
  kernelSize: IntPair,
  options: { stride?: IntPair | null; padding?: IntPair; dilation?: IntPair; ceilMode?: boolean },
): Pool2dParams {
  if (x.ndim !== 4)
    throw new RangeError(`${op} expects a (N, C, H, W) or (C, H, W) input, got ${formatShape(x.shape)}`);
  assertFloat(x, `${op} input`);
  const kernel = toPair(kernelSize, `${op} kernelSize`, 1);
  const stride = toPair(options.stride ?? kernelSize, `${op} stride`, 1);
  const padding = toPair(options.padding ?? 0, `${op} padding`, 0);
  const dilation = toPair(options.dilation ?? 1, `${op} dilation`, 1);
  if (padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2) {
    throw new RangeError(
      `${op}: padding [${padding.join(", ")}] should be at most half of the kernel size [${kernel.join(", ")}]`,
    );
  }
  const outputSize = [0, 1].map((axis) =>
    pooledSize(
      x.shape[2 + axis],
      kernel[axis],
      stride[axis],
      padding[axis],
      dilation[axis],
      options.ceilMode ?? false,
    ),
  );
  if (outputSize[0] < 1 || outputSize[1] < 1) {
    throw new RangeError(
      `${op}: the output size [${outputSize.join(", ")}] is too small for input ${formatShape(x.shape)} ` +
        `(kernel [${kernel.join(", ")}], stride [${stride.join(", ")}], padding [${padding.join(", ")}], dilation [${dilation.join(", ")}])`,
    );
  }
  return { kernelSize: kernel, stride, padding, dilation, outputSize: [outputSize[0], outputSize[1]] };
}

/**
 * Max pooling: `y[n, c, i, j] = max` over the window at (i·stride − pad, j·stride − pad) with
 * taps `dilation` apart. Input (N, C, H, W) or (C, H, W). The gradient goes to the maximum.
 */
export function maxPool2d(x: Tensor, kernelSize: IntPair, options: MaxPool2dOptions = {}): Tensor {
  return maxPool2dWithIndices(x, kernelSize, options)[0];
}

/**
 * Max pooling that also returns the int32 index of each maximum, flat `h·W + w` within its
 * (n, c) plane (PyTorch's `return_indices=True`).
 */
export function maxPool2dWithIndices(
  x: Tensor,
  kernelSize: IntPair,
  options: MaxPool2dOptions = {},
): [values: Tensor, indices: Tensor] {
  if (x.ndim === 3) {
    const [values, indices] = maxPool2dWithIndices(x.unsqueeze(0), kernelSize, options);
    return [values.squeeze(0), indices.squeeze(0)];
  }
  return maxPoolKernel(x, resolvePool("maxPool2d", x, kernelSize, options));
}

/**
 * Average pooling: the mean over each window. The divisor is the window clipped to the padded
 * input (`countIncludePad: true`, default) or to the input itself, or `divisorOverride`.
 */
export function avgPool2d(x: Tensor, kernelSize: IntPair, options: AvgPool2dOptions = {}): Tensor {
  if (x.ndim === 3) return avgPool2d(x.unsqueeze(0), kernelSize, options).squeeze(0);
  const { countIncludePad = true, divisorOverride = null } = options;
  if (divisorOverride !== null && !(Number.isFinite(divisorOverride) && divisorOverride !== 0)) {
    throw new RangeError(`avgPool2d: divisorOverride must be a non-zero number, got ${divisorOverride}`);
  }
  const params = resolvePool("avgPool2d", x, kernelSize, { ...options, dilation: 1 });
  return avgPoolKernel(x, { ...params, countIncludePad, divisorOverride });
}

/** An adaptive pool's output size; null keeps that input dim. */
export type AdaptiveSize = number | readonly [number | null, number | null];

/**
 * Output cell (i, j) of an adaptive pool reduces input rows `⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1` and
 * the columns likewise (PyTorch's start/end formula); `evenly` handles sizes that divide.
 */
function adaptivePool(
  op: string,
  x: Tensor,
  outputSize: AdaptiveSize,
  evenly: (x: Tensor, kernel: [number, number]) => Tensor,
  cell: (window: Tensor) => Tensor,
): Tensor {
  if (x.ndim !== 4) {
    throw new RangeError(`${op} expects a (N, C, H, W) or (C, H, W) input, got ${formatShape(x.shape)}`);
  }
  assertFloat(x, `${op} input`);
  const requested = typeof outputSize === "number" ? [outputSize, outputSize] : outputSize;
  const [outH, outW] = [0, 1].map((axis) => requested[axis] ?? x.shape[2 + axis]);
  if (![outH, outW].every((size) => Number.isInteger(size) && size >= 1)) {
    throw new RangeError(`${op}: output size must be positive integers, got ${formatValue(outputSize)}`);
  }
  const [height, width] = [x.shape[2], x.shape[3]];
  if (height === 0 || width === 0) throw new RangeError(`${op}: empty input ${formatShape(x.shape)}`);
  if (height % outH === 0 && width % outW === 0) return evenly(x, [height / outH, width / outW]);
  const rows = Array.from({ length: outH }, (_, i) => {
    const [top, bottom] = [Math.floor((i * height) / outH), Math.ceil(((i + 1) * height) / outH)];
    const band = x.narrow(2, top, bottom - top);
    const cells = Array.from({ length: outW }, (_, j) => {
      const [left, right] = [Math.floor((j * width) / outW), Math.ceil(((j + 1) * width) / outW)];
      return cell(band.narrow(3, left, right - left));
    });
    return stack(cells, -1);
  });
  return stack(rows, -2);
}

/**
 * Adaptive average pooling to `outputSize`: output cell i averages input rows
 * `⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1` (and likewise columns), as PyTorch. When the sizes divide evenly
 * this is one average-pool kernel; otherwise the cells are averaged one by one.
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  if (x.ndim === 3) return adaptiveAvgPool2d(x.unsqueeze(0), outputSize).squeeze(0);
  return adaptivePool(
    "adaptiveAvgPool2d",
    x,
    outputSize,
    (input, kernel) => avgPool2d(input, kernel),
    (window) => window.mean([2, 3]),
  );
}

/**
 * Adaptive max pooling to `outputSize` (null keeps that input dim): output cell (i, j) is the
 * maximum over input rows `⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1` and columns `⌊j·W/OW⌋ … ⌈(j+1)·W/OW⌉ − 1`,
 * as PyTorch. Each cell is a max pool over its window, so the gradient goes to its first maximum.
 */
export function adaptiveMaxPool2d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  if (x.ndim === 3) return adaptiveMaxPool2d(x.unsqueeze(0), outputSize).squeeze(0);
  return adaptivePool(
    "adaptiveMaxPool2d",
    x,
    outputSize,
    (input, kernel) => maxPool2d(input, kernel),
    (window) => maxPool2d(window, [window.shape[2], window.shape[3]]).squeeze(3).squeeze(2),
  );
}

/** Options of `maxPool1d`. */
export interface MaxPool1dOptions {
  /** Default: the kernel size (null too). */
  stride?: number | null;
  /** Implicit −∞ padding on both ends, at most half the kernel; default 0. */
  padding?: number;
  /** Spacing of the window's taps; default 1. */
  dilation?: number;
  /** Round the output length up instead of down; default false. */
  ceilMode?: boolean;
}

/** Options of `avgPool1d`. */
export interface AvgPool1dOptions {
  /** Default: the kernel size (null too). */
  stride?: number | null;
  /** Implicit zero padding on both ends, at most half the kernel; default 0. */
  padding?: number;
  /** Default false. */
  ceilMode?: boolean;
  /** Count padding zeros in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
}

function assert1d(op: string, x: Tensor): void {
  if (x.ndim !== 2 && x.ndim !== 3)
    throw new RangeError(`${op} expects a (N, C, L) or (C, L) input, got ${formatShape(x.shape)}`);
}

/**
 * 1-D max pooling: `y[n, c, i] = max` over `x[n, c, i·stride − pad + k·dilation]`, k < kernelSize,
 * with `OL = ⌊(L + 2·pad − dilation·(kernelSize − 1) − 1)/stride⌋ + 1`. Input (N, C, L) or (C, L).
 */
export function maxPool1d(x: Tensor, kernelSize: number, options: MaxPool1dOptions = {}): Tensor {
  return maxPool1dWithIndices(x, kernelSize, options)[0];
}

/** 1-D max pooling that also returns the int32 position of each maximum along L. */
export function maxPool1dWithIndices(
  x: Tensor,
  kernelSize: number,
  { stride = null, padding = 0, dilation = 1, ceilMode = false }: MaxPool1dOptions = {},
): [values: Tensor, indices: Tensor] {
  assert1d("maxPool1d", x);
  const [values, indices] = maxPool2dWithIndices(x.unsqueeze(-2), [1, kernelSize], {
    stride: [1, stride ?? kernelSize],
    padding: [0, padding],
    dilation: [1, dilation],
    ceilMode,
  });
  return [values.squeeze(-2), indices.squeeze(-2)];
}

/**
 * 1-D average pooling: the mean over each window of `kernelSize`; the divisor counts padding
 * zeros when `countIncludePad` (default true). Input (N, C, L) or (C, L).
 */
export function avgPool1d(x: Tensor, kernelSize: number, options: AvgPool1dOptions = {}): Tensor {
  assert1d("avgPool1d", x);
  const { stride = null, padding = 0, ceilMode = false, countIncludePad = true } = options;
  return avgPool2d(x.unsqueeze(-2), [1, kernelSize], {
    stride: [1, stride ?? kernelSize],
    padding: [0, padding],
    ceilMode,
    countIncludePad,
  }).squeeze(-2);
}
