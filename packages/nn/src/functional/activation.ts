// Functional activations: relu, leakyRelu, prelu, elu, sigmoid, silu, tanh, gelu, softplus, mish, hardswish, softmax, logSoftmax, and dropout.
import { formatShape, formatValue, type Generator, rand, type Tensor, where } from "@normgrad/core";
import { assertFloat, assertSameDType } from "./validate.ts";

/** `relu(x) = max(x, 0)`, gradient 0 at 0. */
export function relu(x: Tensor): Tensor {
  return x.relu();
}

/** `leakyRelu(x) = x` for x > 0, else `negativeSlope·x` (default 0.01). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return x.leakyRelu(negativeSlope);
}

/** `σ(x) = 1/(1 + e⁻ˣ)`. */
export function sigmoid(x: Tensor): Tensor {
  return x.sigmoid();
}

/** Hyperbolic tangent. */
export function tanh(x: Tensor): Tensor {
  return x.tanh();
}

/** GELU: `x·Φ(x)` (`approximate: "none"`, default) or its tanh approximation (`"tanh"`). */
export function gelu(x: Tensor, { approximate = "none" }: { approximate?: "none" | "tanh" } = {}): Tensor {
  if (approximate !== "none" && approximate !== "tanh") {
    throw new RangeError(`gelu: approximate must be "none" or "tanh", got ${formatValue(approximate)}`);
  }
  return x.gelu(approximate);
}

/**
 * `prelu(x) = x` for x > 0, else `weight·x`, with one learned slope for all of x (`weight` of one
 * element) or one per channel (dim 1, so `weight` has `x.shape[1]` elements).
 */
export function prelu(x: Tensor, weight: Tensor): Tensor {
  assertFloat(x, "prelu input");
  assertSameDType("prelu", x, [["weight", weight]]);
  if (weight.size === 1) return where(x.gt(0), x, x.mul(weight.reshape([])));
  const channels = x.ndim >= 2 ? x.shape[1] : 1;
  if (weight.ndim !== 1 || weight.size !== channels) {
    throw new RangeError(
      `prelu: weight ${formatShape(weight.shape)} must hold 1 slope or one per channel (dim 1 of input ` +
        `${formatShape(x.shape)}: ${channels})`,
    );
  }
  const perChannel = weight.reshape([channels, ...x.shape.slice(2).map(() => 1)]);
  return where(x.gt(0), x, x.mul(perChannel));
}

/** `elu(x) = x` for x > 0, else `alpha·(eˣ − 1)` (default alpha 1); the gradient at 0 is alpha, as PyTorch's. */
export function elu(x: Tensor, alpha = 1): Tensor {
  if (!Number.isFinite(alpha)) throw new RangeError(`elu: alpha must be finite, got ${alpha}`);
  // exp of min(x, 0): the unselected branch's e^x would overflow for large x and turn its zero gradient into NaN.
  return where(x.gt(0), x, x.clamp(null, 0).exp().sub(1).mul(alpha));
}

/** SiLU (swish): `silu(x) = x·σ(x)`. */
export function silu(x: Tensor): Tensor {
  return x.mul(x.sigmoid());
}

/**
 * `log(1 + eᶻ)` without overflow: `m + log(e⁻ᵐ + eᶻ⁻ᵐ)` with m = max(z, 0) detached, so the
 * gradient is exactly σ(z), also at z = 0.
 */
function stableSoftplus(z: Tensor): Tensor {
  const shift = z.relu().detach();
  return shift.neg().exp().add(z.sub(shift).exp()).log().add(shift);
}

/** Options of `softplus`. */
export interface SoftplusOptions {
  /** Sharpness β (default 1). */
  beta?: number;
  /** Above this value of β·x the result is x itself (default 20), as PyTorch's. */
  threshold?: number;
}

/** `softplus(x) = log(1 + e^(β·x))/β`, and `x` where `β·x > threshold` (defaults β 1, threshold 20). */
export function softplus(x: Tensor, { beta = 1, threshold = 20 }: SoftplusOptions = {}): Tensor {
  if (!Number.isFinite(beta) || beta === 0)
    throw new RangeError(`softplus: beta must be finite and nonzero, got ${beta}`);
  if (Number.isNaN(threshold)) throw new RangeError(`softplus: threshold must be a number, got ${threshold}`);
  const z = x.mul(beta);
  return where(z.gt(threshold), x, stableSoftplus(z).div(beta));
}

/** Mish: `mish(x) = x·tanh(softplus(x))` (softplus without a threshold, as PyTorch's). */
export function mish(x: Tensor): Tensor {
  return x.mul(stableSoftplus(x).tanh());
}

/**
 * Hardswish: `x·min(max(x + 3, 0), 6)/6`. As PyTorch's, the gradient is −½ at x = −3 and 3/2 at
 * x = 3 (the middle piece's slope x/3 + ½ on the closed interval).
 */
export function hardswish(x: Tensor): Tensor {
  return x.mul(x.add(3).clamp(0, 6)).div(6);
}

/** `softmax(x)ᵢ = eˣⁱ / Σⱼ eˣʲ` along `dim`. */
export function softmax(x: Tensor, dim: number): Tensor {
  return x.softmax(dim);
}

/** `logSoftmax(x) = x − logsumexp(x)` along `dim`, computed stably. */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return x.logSoftmax(dim);
}

/** Options of `dropout`. */
export interface DropoutOptions {
  /** Probability of zeroing an element (default 0.5). */
  p?: number;
  /** Apply dropout (default true); false returns `x` unchanged, as in eval mode. */
  training?: boolean;
  /** Source of randomness (default: the global generator, so `manualSeed` makes it repeatable). */
  generator?: Generator;
}

/**
 * Inverted dropout: in training, each element is zeroed with probability `p` and the survivors
 * are scaled by `1/(1−p)`, so the expectation is unchanged; outside training it is the identity.
 */
export function dropout(x: Tensor, { p = 0.5, training = true, generator }: DropoutOptions = {}): Tensor {
  assertDropoutProbability(p);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  const keepMask = rand(x.shape, { dtype: x.dtype, device: x.device, generator }).ge(p);
  return x.mul(keepMask).mul(1 / (1 - p));
}

/** Throws unless 0 ≤ p ≤ 1. */
export function assertDropoutProbability(p: number): void {
  if (!(p >= 0 && p <= 1)) {
    throw new RangeError(`dropout probability has to be between 0 and 1, but got ${p}`);
  }
}
