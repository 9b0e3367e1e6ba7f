// Functional 2-D transposed convolution: conv2d's input gradient as an op, with PyTorch's output size and checks.
import { formatShape, type Tensor } from "@normgrad/core";
import { conv2dInputGrad } from "@normgrad/core/internal";
import { assertFloat, assertSameDType, type IntPair, toPair } from "./validate.ts";

/** Options of `convTranspose2d`; PyTorch's names and defaults. */
export interface ConvTranspose2dOptions {
  /** Added per output channel (shape [outChannels]); default none. */
  bias?: Tensor | null;
  /** Default 1. */
  stride?: IntPair;
  /** Rows and columns removed from both sides of the full output; default 0. */
  padding?: IntPair;
  /** Rows and columns added at the bottom and right, to pick among the sizes a stride maps to one; default 0. */
  outputPadding?: IntPair;
  /** Default 1. */
  groups?: number;
  /** Default 1. */
  dilation?: IntPair;
}

/**
 * 2-D transposed convolution, as PyTorch's `F.conv_transpose2d`: the gradient of `conv2d` with
 * respect to its input, for x (N, Cin, H, W) or (Cin, H, W) and weight (Cin, Cout/groups, KH, KW).
 * The output is (N, Cout, OH, OW) with
 * `OH = (H − 1)·stride − 2·padding + dilation·(KH − 1) + outputPadding + 1` (likewise OW).
 * Differentiable to any order: its gradients are a convolution and a weight gradient.
 */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  {
    bias = null,
    stride = 1,
    padding = 0,
    outputPadding = 0,
    groups = 1,
    dilation = 1,
  }: ConvTranspose2dOptions = {},
): Tensor {
  if (x.ndim === 3) {
    return convTranspose2d(x.unsqueeze(0), weight, {
      bias,
      stride,
      padding,
      outputPadding,
      groups,
      dilation,
    }).squeeze(0);
  }
  if (x.ndim !== 4) {
    throw new RangeError(
      `convTranspose2d expects a (N, C, H, W) or (C, H, W) input, got shape ${formatShape(x.shape)}`,
    );
  }
  assertFloat(x, "convTranspose2d input");
  assertSameDType("convTranspose2d", x, [
    ["weight", weight],
    ["bias", bias],
  ]);
  if (!Number.isInteger(groups) || groups < 1)
    throw new RangeError(`convTranspose2d: groups must be a positive integer, got ${groups}`);
  if (weight.ndim !== 4 || weight.shape[0] !== x.shape[1] || x.shape[1] % groups !== 0) {
    throw new RangeError(
      `convTranspose2d: weight must be (Cin, Cout/groups, KH, KW) with Cin = the input's ${x.shape[1]} channels ` +
        `(divisible by groups ${groups}), got weight ${formatShape(weight.shape)}`,
    );
  }
  const outChannels = weight.shape[1] * groups;
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== outChannels)) {
    throw new RangeError(
      `convTranspose2d: bias must have shape [${outChannels}], got ${formatShape(bias.shape)}`,
    );
  }
  const steps = toPair(stride, "convTranspose2d stride", 1);
  const pads = toPair(padding, "convTranspose2d padding", 0);
  const extra = toPair(outputPadding, "convTranspose2d outputPadding", 0);
  const taps = toPair(dilation, "convTranspose2d dilation", 1);
  const size = (axis: 0 | 1): number => {
    if (extra[axis] >= steps[axis] && extra[axis] >= taps[axis]) {
      throw new RangeError(
        `convTranspose2d: outputPadding ${formatShape(extra)} must be smaller than stride ${formatShape(steps)} ` +
          `or dilation ${formatShape(taps)} on each axis`,
      );
    }
    const kernel = weight.shape[2 + axis];
    return (
      (x.shape[2 + axis] - 1) * steps[axis] - 2 * pads[axis] + taps[axis] * (kernel - 1) + extra[axis] + 1
    );
  };
  const outputShape = [x.shape[0], outChannels, size(0), size(1)];
  if (outputShape[2] < 1 || outputShape[3] < 1) {
    throw new RangeError(
      `convTranspose2d: the output would be ${formatShape(outputShape)} for input ${formatShape(x.shape)}, ` +
        `weight ${formatShape(weight.shape)} and padding ${formatShape(pads)}: use less padding`,
    );
  }
  // The convolution this one is the transpose of maps the output back to x's shape; outputPadding
  // rows come off its bottom/right padding, so its geometry is exact (and so are the gradients'),
  // and rows past the full output (padding < outputPadding) are zeros.
  const short = [Math.max(0, extra[0] - pads[0]), Math.max(0, extra[1] - pads[1])];
  const computed = [outputShape[0], outChannels, outputShape[2] - short[0], outputShape[3] - short[1]];
  const full = conv2dInputGrad(x, weight, computed, {
    stride: steps,
    padding: [
      [pads[0], Math.max(0, pads[0] - extra[0])],
      [pads[1], Math.max(0, pads[1] - extra[1])],
    ],
    dilation: taps,
    groups,
    outputSize: [x.shape[2], x.shape[3]],
  });
  const y = short[0] + short[1] === 0 ? full : full.pad([0, short[1], 0, short[0]]);
  return bias === null ? y : y.add(bias.reshape([1, outChannels, 1, 1]));
}
