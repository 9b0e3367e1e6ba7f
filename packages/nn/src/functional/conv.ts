// Functional 1-D and 2-D convolution: option checks, 'same'/'valid' padding, the core kernel, the bias; the layers' padding modes.
import { type Conv2dParams, formatShape, formatValue, type Tensor } from "@normgrad/core";
import { conv2d as conv2dKernel } from "@normgrad/core/internal";
import { pad } from "./padding.ts";
import { assertFloat, assertSameDType, type IntPair, toPair } from "./validate.ts";

/** Conv padding: an int, a `[height, width]` pair, `"valid"` (none) or `"same"` (output size = input size). */
export type Conv2dPadding = IntPair | "same" | "valid";

/** Options of `conv2d`. */
export interface Conv2dOptions {
  /** Added per output channel (shape [O]); default none. */
  bias?: Tensor | null;
  /** Default 1. */
  stride?: IntPair;
  /** Default 0. `"same"` needs stride 1; an odd total puts the extra row/column at the bottom/right. */
  padding?: Conv2dPadding;
  /** Spacing of the kernel taps; default 1. */
  dilation?: IntPair;
  /** Channel groups: input and output channels split into `groups` independent convolutions; default 1. */
  groups?: number;
}

/** The (before, after) padding per spatial axis of a conv, with `"same"` resolved for `kernel` and `dilation`. */
export function resolveConvPadding(
  padding: Conv2dPadding,
  kernel: readonly [number, number],
  dilation: readonly [number, number],
  stride: readonly [number, number],
): [[number, number], [number, number]] {
  if (padding === "valid")
    return [
      [0, 0],
      [0, 0],
    ];
  if (padding === "same") {
    if (stride[0] !== 1 || stride[1] !== 1) {
      throw new RangeError(
        `conv2d: padding "same" is not supported for strided convolutions (stride [${stride.join(", ")}])`,
      );
    }
    const side = (axis: 0 | 1): [number, number] => {
      const total = dilation[axis] * (kernel[axis] - 1);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    };
    return [side(0), side(1)];
  }
  if (typeof padding === "string") {
    throw new RangeError(
      `conv2d: padding must be an int, a pair, "same" or "valid", got ${formatValue(padding)}`,
    );
  }
  const [top, left] = toPair(padding, "conv2d padding", 0);
  return [
    [top, top],
    [left, left],
  ];
}

/**
 * 2-D cross-correlation (what deep learning calls convolution), as PyTorch's `F.conv2d`:
 * `y[n, o] = b[o] + Σ_c W[o, c] ⋆ x[n, g·C/G + c]` for x (N, C, H, W) or (C, H, W) and weight
 * (O, C/groups, KH, KW); y is (N, O, OH, OW) with `OH = ⌊(H + 2·pad − dilation·(KH − 1) − 1)/stride⌋ + 1`.
 */
export function conv2d(
  x: Tensor,
  weight: Tensor,
  { bias = null, stride = 1, padding = 0, dilation = 1, groups = 1 }: Conv2dOptions = {},
): Tensor {
  if (x.ndim === 3)
    return conv2d(x.unsqueeze(0), weight, { bias, stride, padding, dilation, groups }).squeeze(0);
  if (x.ndim !== 4) {
    throw new RangeError(
      `conv2d expects a (N, C, H, W) or (C, H, W) input, got shape ${formatShape(x.shape)}`,
    );
  }
  assertFloat(x, "conv2d input");
  if (weight.ndim !== 4) {
    throw new RangeError(
      `conv2d: weight must be 4-D (O, C/groups, KH, KW), got ${formatShape(weight.shape)}`,
    );
  }
  assertSameDType("conv2d", x, [
    ["weight", weight],
    ["bias", bias],
  ]);
  if (!Number.isInteger(groups) || groups < 1)
    throw new RangeError(`conv2d: groups must be a positive integer, got ${groups}`);
  const [outChannels, groupIn, kernelH, kernelW] = weight.shape;
  if (x.shape[1] !== groupIn * groups) {
    throw new RangeError(
      `conv2d: weight ${formatShape(weight.shape)} with groups=${groups} expects ${groupIn * groups} input channels, ` +
        `but the input ${formatShape(x.shape)} has ${x.shape[1]}`,
    );
  }
  if (outChannels % groups !== 0) {
    throw new RangeError(`conv2d: out channels ${outChannels} must be divisible by groups ${groups}`);
  }
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== outChannels)) {
    throw new RangeError(`conv2d: bias ${formatShape(bias.shape)} must be [${outChannels}]`);
  }
  const strides = toPair(stride, "conv2d stride", 1);
  const dilations = toPair(dilation, "conv2d dilation", 1);
  const params: Conv2dParams = {
    stride: strides,
    padding: resolveConvPadding(padding, [kernelH, kernelW], dilations, strides),
    dilation: dilations,
    groups,
  };
  [0, 1].forEach((axis) => {
    const padded = x.shape[2 + axis] + params.padding[axis][0] + params.padding[axis][1];
    const span = dilations[axis] * (weight.shape[2 + axis] - 1) + 1;
    if (padded < span) {
      throw new RangeError(
        `conv2d: the padded input ${axis === 0 ? "height" : "width"} ${padded} is smaller than the ` +
          `(dilated) kernel ${span}: input ${formatShape(x.shape)}, weight ${formatShape(weight.shape)}`,
      );
    }
  });
  const y = conv2dKernel(x, weight, params);
  return bias === null ? y : y.add(bias.reshape([outChannels, 1, 1]));
}

/** How a conv layer pads: zeros (inside the kernel), or by `F.pad`'s reflect/replicate/circular. */
export type ConvPaddingMode = "zeros" | "reflect" | "replicate" | "circular";

const CONV_PADDING_MODES: readonly ConvPaddingMode[] = ["zeros", "reflect", "replicate", "circular"];

/** Throws unless `mode` is one of the conv padding modes. */
export function assertConvPaddingMode(mode: ConvPaddingMode, op: string): void {
  if (!CONV_PADDING_MODES.includes(mode)) {
    throw new RangeError(
      `${op}: paddingMode must be one of ${CONV_PADDING_MODES.join(", ")}, got ${formatValue(mode)}`,
    );
  }
}

/**
 * `x` padded for a conv layer with a non-zeros `mode` (then convolved with padding 0), as
 * PyTorch's `_reversed_padding_repeated_twice`: `"same"` puts the odd extra after.
 */
export function padForConv(
  x: Tensor,
  mode: Exclude<ConvPaddingMode, "zeros">,
  amounts: [[number, number], [number, number]],
  spatialDims: 1 | 2,
): Tensor {
  const [[top, bottom], [left, right]] = amounts;
  return pad(x, spatialDims === 1 ? [left, right] : [left, right, top, bottom], { mode });
}

/** Conv1d padding: an int, `"valid"` (none) or `"same"` (output length = input length, stride 1). */
export type Conv1dPadding = number | "same" | "valid";

/** Options of `conv1d`. */
export interface Conv1dOptions {
  /** Added per output channel (shape [O]); default none. */
  bias?: Tensor | null;
  /** Default 1. */
  stride?: number;
  /** Zeros on both ends; default 0. `"same"` needs stride 1; an odd total puts the extra at the end. */
  padding?: Conv1dPadding;
  /** Spacing of the kernel taps; default 1. */
  dilation?: number;
  /** Channel groups; default 1. */
  groups?: number;
}

/**
 * 1-D cross-correlation, as PyTorch's `F.conv1d`: `y[n, o] = b[o] + Σ_c W[o, c] ⋆ x[n, g·C/G + c]`
 * for x (N, C, L) or (C, L) and weight (O, C/groups, K); y is (N, O, OL) with
 * `OL = ⌊(L + 2·pad − dilation·(K − 1) − 1)/stride⌋ + 1`. Computed as `conv2d` on (N, C, 1, L).
 */
export function conv1d(
  x: Tensor,
  weight: Tensor,
  { bias = null, stride = 1, padding = 0, dilation = 1, groups = 1 }: Conv1dOptions = {},
): Tensor {
  if (x.ndim === 2)
    return conv1d(x.unsqueeze(0), weight, { bias, stride, padding, dilation, groups }).squeeze(0);
  if (x.ndim !== 3) {
    throw new RangeError(`conv1d expects a (N, C, L) or (C, L) input, got shape ${formatShape(x.shape)}`);
  }
  if (weight.ndim !== 3) {
    throw new RangeError(`conv1d: weight must be 3-D (O, C/groups, K), got ${formatShape(weight.shape)}`);
  }
  for (const [name, value, min] of [
    ["stride", stride, 1],
    ["dilation", dilation, 1],
    ["padding", padding, 0],
  ] as const) {
    if (typeof value === "number" && !(Number.isInteger(value) && value >= min)) {
      throw new RangeError(`conv1d: ${name} must be an integer ≥ ${min}, got ${formatValue(value)}`);
    }
  }
  const y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), {
    bias,
    stride: [1, stride],
    padding: typeof padding === "string" ? padding : [0, padding],
    dilation: [1, dilation],
    groups,
  });
  return y.squeeze(2);
}
