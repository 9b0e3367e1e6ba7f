// Argument checks shared by the functional ops: (height, width) pairs, float dtypes, matching dtypes, reductions, class indices.

import {
  type Device,
  type DType,
  formatShape,
  formatValue,
  type Generator,
  type Tensor,
} from "@normgrad/core";

/** An int for both spatial dims, or `[height, width]`. */
export type IntPair = number | readonly [number, number];

/** `value` as `[height, width]`, checked to be integers ≥ `min`; errors name the op and option. */
export function toPair(value: IntPair, what: string, min: number): [number, number] {
  const pair: [number, number] = typeof value === "number" ? [value, value] : [value[0], value[1]];
  if (typeof value !== "number" && value.length !== 2) {
    throw new RangeError(`${what} must be an int or a [height, width] pair, got ${formatValue(value)}`);
  }
  if (!pair.every((item) => Number.isInteger(item) && item >= min)) {
    throw new RangeError(`${what} must be integers ≥ ${min}, got ${formatValue(value)}`);
  }
  return pair;
}

/** Throws unless `x` is float32 or float64. */
export function assertFloat(x: Tensor, what: string): void {
  if (x.dtype === "int32") {
    throw new TypeError(`${what} must be float32 or float64, got int32: convert it with .to("float32")`);
  }
}

/**
 * Throws unless every given parameter (weight, bias) has the input's dtype, as PyTorch refuses
 * mixed dtypes rather than computing in the wider one.
 */
export function assertSameDType(op: string, x: Tensor, parameters: readonly [string, Tensor | null][]): void {
  for (const [name, parameter] of parameters) {
    if (parameter !== null && parameter.dtype !== x.dtype) {
      throw new TypeError(
        `${op}: expected the input and ${name} to have the same dtype, got input ${x.dtype} and ${name} ` +
          `${parameter.dtype}: convert the module with .to("${x.dtype}") or the input with .to("${parameter.dtype}")`,
      );
    }
  }
}

/** Throws unless `ignoreIndex` is an integer (a class index to skip). */
export function assertIgnoreIndex(ignoreIndex: number, what: string): void {
  if (!Number.isInteger(ignoreIndex)) {
    throw new RangeError(
      `${what}: ignoreIndex must be an integer (the class index whose targets are skipped, default -100), ` +
        `got ${ignoreIndex}`,
    );
  }
}

/** How a loss reduces its per-element values: their mean (default), their sum, or none. */
export type Reduction = "mean" | "sum" | "none";

/** Throws unless `reduction` is one of the three. */
export function assertReduction(reduction: Reduction, what: string): void {
  if (reduction !== "mean" && reduction !== "sum" && reduction !== "none") {
    throw new RangeError(`${what}: reduction must be "mean", "sum" or "none", got ${formatValue(reduction)}`);
  }
}

/** Options shared by layers that create parameters. */
export interface FactoryOptions {
  /** Default float32. */
  dtype?: DType;
  /** Default "cpu". */
  device?: Device;
  /** Draws the initial values (default: the global generator). */
  generator?: Generator;
}

/** Throws unless `value` is a positive integer (a feature or channel count). */
export function assertPositiveInt(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${what} must be a positive integer, got ${formatValue(value)}`);
}

/** A convolution layer's channel counts and groups: positive integers, both counts divisible by groups. */
export function assertConvChannels(
  layer: string,
  inChannels: number,
  outChannels: number,
  groups: number,
): void {
  assertPositiveInt(inChannels, `${layer} inChannels`);
  assertPositiveInt(outChannels, `${layer} outChannels`);
  assertPositiveInt(groups, `${layer} groups`);
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new RangeError(
      `${layer}: inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${groups}`,
    );
  }
}

/** Throws unless `tensor` is null or has shape [channels] (a per-channel weight, bias or statistic). */
export function assertPerChannel(tensor: Tensor | null, name: string, channels: number, op: string): void {
  if (tensor !== null && (tensor.ndim !== 1 || tensor.shape[0] !== channels)) {
    throw new RangeError(
      `${op}: ${name} must have shape [${channels}] (one value per channel), got ${formatShape(tensor.shape)}`,
    );
  }
}
