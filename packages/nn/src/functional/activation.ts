// Functional activations: relu, leakyRelu, sigmoid, tanh, gelu, softmax, logSoftmax, and dropout.
import { formatValue, type Generator, rand, type Tensor } from "@normgrad/core";

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
