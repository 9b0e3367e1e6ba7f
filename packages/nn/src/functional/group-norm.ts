// Functional GroupNorm: each sample's channels split into groups, each group normalized on its own.
import { formatShape, type Tensor } from "@normgrad/core";
import { normalize } from "./normalize.ts";
import { assertFloat, assertPerChannel } from "./validate.ts";

/** Options of `groupNorm`. */
export interface GroupNormOptions {
  /** γ, one per channel (default none: 1). */
  weight?: Tensor | null;
  /** β, one per channel (default none: 0). */
  bias?: Tensor | null;
  /** Added to the variance under the square root (default 1e-5). */
  eps?: number;
}

/** Throws unless `numGroups` is a positive integer dividing `numChannels`, naming both. */
export function assertGroups(numGroups: number, numChannels: number, where: string): void {
  if (!Number.isInteger(numGroups) || numGroups <= 0 || numChannels % numGroups !== 0) {
    throw new RangeError(
      `${where}: numChannels (${numChannels}) must be divisible by numGroups (${numGroups}), ` +
        "and numGroups must be a positive integer",
    );
  }
}

/**
 * Group normalization of x (N, C, *): the C channels of each sample are split into `numGroups`
 * contiguous groups and each (sample, group) is normalized over its channels and spatial dims
 * with the biased variance, then `y = x̂·weight[c] + bias[c]`. The same in training and eval.
 * The backward is the fused, hand-derived one: `dx = σ⁻¹·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))`, ĝ = dy·γ[c].
 */
export function groupNorm(
  x: Tensor,
  numGroups: number,
  { weight = null, bias = null, eps = 1e-5 }: GroupNormOptions = {},
): Tensor {
  assertFloat(x, "groupNorm input");
  if (x.ndim < 2) {
    throw new RangeError(`groupNorm expects an input of shape (N, C, *), got shape ${formatShape(x.shape)}`);
  }
  const [outer, channels] = x.shape;
  assertGroups(numGroups, channels, `groupNorm on an input of shape ${formatShape(x.shape)}`);
  assertPerChannel(weight, "weight", channels, "groupNorm");
  assertPerChannel(bias, "bias", channels, "groupNorm");
  const inner = x.shape.slice(2).reduce((product, dim) => product * dim, 1);
  const layout = { kind: "per-group", outer, channels, inner, groups: numGroups } as const;
  return normalize(x, layout, weight, bias, { eps, statistics: null }).output;
}
