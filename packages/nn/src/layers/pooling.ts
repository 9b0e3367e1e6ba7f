// Pooling layers: MaxPool2d/1d (optionally returning indices), AvgPool2d/1d, AdaptiveAvgPool2d and AdaptiveMaxPool2d.

import type { Tensor } from "@normgrad/core";
import { formatValue } from "@normgrad/core";
import {
  type AdaptiveSize,
  type AvgPool1dOptions,
  type AvgPool2dOptions,
  adaptiveAvgPool2d,
  adaptiveMaxPool2d,
  avgPool1d,
  avgPool2d,
  type MaxPool1dOptions,
  type MaxPool2dOptions,
  maxPool1dWithIndices,
  maxPool2dWithIndices,
} from "../functional/pooling.ts";
import { type IntPair, toPair } from "../functional/validate.ts";
import { Module } from "../module.ts";
import { formatPythonBool, formatPythonTuple } from "../repr.ts";

/** An int or pair as PyTorch's repr prints what the user passed: `2` or `(2, 3)`. */
function formatIntPair(value: IntPair): string {
  return typeof value === "number" ? String(value) : formatPythonTuple(value);
}

/** What MaxPool2d returns: the pooled values, or values and indices with `returnIndices: true`. */
export type MaxPool2dOutput<ReturnIndices extends boolean> = ReturnIndices extends true
  ? [values: Tensor, indices: Tensor]
  : Tensor;

/**
 * Max pooling over (N, C, H, W) or (C, H, W) input (see `F.maxPool2d`). `stride` defaults to
 * the kernel size. With `returnIndices: true`, forward returns `[values, indices]` (int32, flat
 * `h·W + w` per plane, as PyTorch).
 */
export class MaxPool2d<ReturnIndices extends boolean = false> extends Module<
  [Tensor],
  MaxPool2dOutput<ReturnIndices>
> {
  readonly kernelSize: IntPair;
  readonly stride: IntPair;
  readonly padding: IntPair;
  readonly dilation: IntPair;
  readonly ceilMode: boolean;
  readonly returnIndices: ReturnIndices;

  constructor(kernelSize: IntPair, options: MaxPool2dOptions & { returnIndices?: ReturnIndices } = {}) {
    super();
    const { stride = null, padding = 0, dilation = 1, ceilMode = false } = options;
    this.kernelSize = kernelSize;
    this.stride = stride ?? kernelSize;
    this.padding = padding;
    this.dilation = dilation;
    this.ceilMode = ceilMode;
    // `returnIndices` absent means false; the type parameter then defaults to false as well.
    this.returnIndices = options.returnIndices ?? narrowFalse<ReturnIndices>();
    const kernel = toPair(kernelSize, "MaxPool2d kernelSize", 1);
    toPair(this.stride, "MaxPool2d stride", 1);
    toPair(dilation, "MaxPool2d dilation", 1);
    const pad = toPair(padding, "MaxPool2d padding", 0);
    if (pad[0] > kernel[0] / 2 || pad[1] > kernel[1] / 2) {
      throw new RangeError(
        `MaxPool2d: padding [${pad.join(", ")}] should be at most half of the kernel size [${kernel.join(", ")}]`,
      );
    }
  }

  forward(x: Tensor): MaxPool2dOutput<ReturnIndices> {
    const result = maxPool2dWithIndices(x, this.kernelSize, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      ceilMode: this.ceilMode,
    });
    return selectOutput(result, this.returnIndices);
  }

  override extraRepr(): string {
    return (
      `kernel_size=${formatIntPair(this.kernelSize)}, stride=${formatIntPair(this.stride)}, ` +
      `padding=${formatIntPair(this.padding)}, dilation=${formatIntPair(this.dilation)}, ` +
      `ceil_mode=${formatPythonBool(this.ceilMode)}`
    );
  }
}

function narrowFalse<R extends boolean>(): R {
  // The only way to reach this is `returnIndices` left out, where R is its default, false.
  return false as R;
}

function selectOutput<R extends boolean>(result: [Tensor, Tensor], returnIndices: R): MaxPool2dOutput<R> {
  // TypeScript cannot narrow a conditional type by a runtime flag; the flag and R agree by construction.
  return (returnIndices ? result : result[0]) as MaxPool2dOutput<R>;
}

/**
 * Average pooling over (N, C, H, W) or (C, H, W) input (see `F.avgPool2d`). `stride` defaults
 * to the kernel size; `countIncludePad` (default true) counts padding zeros in the divisor.
 */
export class AvgPool2d extends Module {
  readonly kernelSize: IntPair;
  readonly stride: IntPair;
  readonly padding: IntPair;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;

  constructor(kernelSize: IntPair, options: AvgPool2dOptions = {}) {
    super();
    const {
      stride = null,
      padding = 0,
      ceilMode = false,
      countIncludePad = true,
      divisorOverride = null,
    } = options;
    this.kernelSize = kernelSize;
    this.stride = stride ?? kernelSize;
    this.padding = padding;
    this.ceilMode = ceilMode;
    this.countIncludePad = countIncludePad;
    this.divisorOverride = divisorOverride;
    const kernel = toPair(kernelSize, "AvgPool2d kernelSize", 1);
    toPair(this.stride, "AvgPool2d stride", 1);
    const pad = toPair(padding, "AvgPool2d padding", 0);
    if (pad[0] > kernel[0] / 2 || pad[1] > kernel[1] / 2) {
      throw new RangeError(
        `AvgPool2d: padding [${pad.join(", ")}] should be at most half of the kernel size [${kernel.join(", ")}]`,
      );
    }
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, {
      stride: this.stride,
      padding: this.padding,
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
      divisorOverride: this.divisorOverride,
    });
  }

  override extraRepr(): string {
    return `kernel_size=${formatIntPair(this.kernelSize)}, stride=${formatIntPair(this.stride)}, padding=${formatIntPair(this.padding)}`;
  }
}

function checkedAdaptiveSize(outputSize: AdaptiveSize, op: string): AdaptiveSize {
  const sizes = typeof outputSize === "number" ? [outputSize] : outputSize;
  if (
    sizes.length === 0 ||
    sizes.length > 2 ||
    !sizes.every((size) => size === null || (Number.isInteger(size) && size >= 1))
  ) {
    throw new RangeError(
      `${op}: outputSize must be a positive int or a pair (null keeps a dim), got ${formatValue(outputSize)}`,
    );
  }
  return outputSize;
}

function formatAdaptiveSize(size: AdaptiveSize): string {
  if (typeof size === "number") return `output_size=${size}`;
  return `output_size=(${size.map((dim) => (dim === null ? "None" : String(dim))).join(", ")})`;
}

/** Adaptive average pooling to a fixed output size (see `F.adaptiveAvgPool2d`); null keeps an input dim. */
export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: AdaptiveSize;

  constructor(outputSize: AdaptiveSize) {
    super();
    this.outputSize = checkedAdaptiveSize(outputSize, "AdaptiveAvgPool2d");
  }

  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }

  override extraRepr(): string {
    return formatAdaptiveSize(this.outputSize);
  }
}

/**
 * Adaptive max pooling to a fixed output size (see `F.adaptiveMaxPool2d`): cell (i, j) is the
 * maximum over rows `⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1` and the columns likewise; null keeps an input dim.
 */
export class AdaptiveMaxPool2d extends Module {
  readonly outputSize: AdaptiveSize;

  constructor(outputSize: AdaptiveSize) {
    super();
    this.outputSize = checkedAdaptiveSize(outputSize, "AdaptiveMaxPool2d");
  }

  forward(x: Tensor): Tensor {
    return adaptiveMaxPool2d(x, this.outputSize);
  }

  override extraRepr(): string {
    return formatAdaptiveSize(this.outputSize);
  }
}

function assertPool1d(op: string, kernel: number, stride: number, padding: number, dilation = 1): void {
  for (const [name, value, min] of [
    ["kernelSize", kernel, 1],
    ["stride", stride, 1],
    ["padding", padding, 0],
    ["dilation", dilation, 1],
  ] as const) {
    if (!Number.isInteger(value) || value < min)
      throw new RangeError(`${op}: ${name} must be an integer ≥ ${min}, got ${formatValue(value)}`);
  }
  if (padding > kernel / 2)
    throw new RangeError(`${op}: padding ${padding} should be at most half of the kernel size ${kernel}`);
}

/**
 * 1-D max pooling over (N, C, L) or (C, L) input (see `F.maxPool1d`); `stride` defaults to the
 * kernel size. With `returnIndices: true`, forward returns `[values, indices]` (int32 positions along L).
 */
export class MaxPool1d<ReturnIndices extends boolean = false> extends Module<
  [Tensor],
  MaxPool2dOutput<ReturnIndices>
> {
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly ceilMode: boolean;
  readonly returnIndices: ReturnIndices;

  constructor(kernelSize: number, options: MaxPool1dOptions & { returnIndices?: ReturnIndices } = {}) {
    super();
    const { stride = null, padding = 0, dilation = 1, ceilMode = false } = options;
    assertPool1d("MaxPool1d", kernelSize, stride ?? kernelSize, padding, dilation);
    this.kernelSize = kernelSize;
    this.stride = stride ?? kernelSize;
    this.padding = padding;
    this.dilation = dilation;
    this.ceilMode = ceilMode;
    this.returnIndices = options.returnIndices ?? narrowFalse<ReturnIndices>();
  }

  forward(x: Tensor): MaxPool2dOutput<ReturnIndices> {
    const result = maxPool1dWithIndices(x, this.kernelSize, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      ceilMode: this.ceilMode,
    });
    return selectOutput(result, this.returnIndices);
  }

  override extraRepr(): string {
    return (
      `kernel_size=${this.kernelSize}, stride=${this.stride}, padding=${this.padding}, ` +
      `dilation=${this.dilation}, ceil_mode=${formatPythonBool(this.ceilMode)}`
    );
  }
}

/**
 * 1-D average pooling over (N, C, L) or (C, L) input (see `F.avgPool1d`); `stride` defaults to
 * the kernel size; `countIncludePad` (default true) counts padding zeros in the divisor.
 */
export class AvgPool1d extends Module {
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;

  constructor(kernelSize: number, options: AvgPool1dOptions = {}) {
    super();
    const { stride = null, padding = 0, ceilMode = false, countIncludePad = true } = options;
    assertPool1d("AvgPool1d", kernelSize, stride ?? kernelSize, padding);
    this.kernelSize = kernelSize;
    this.stride = stride ?? kernelSize;
    this.padding = padding;
    this.ceilMode = ceilMode;
    this.countIncludePad = countIncludePad;
  }

  forward(x: Tensor): Tensor {
    return avgPool1d(x, this.kernelSize, {
      stride: this.stride,
      padding: this.padding,
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
    });
  }

  override extraRepr(): string {
    const [kernel, stride, padding] = [this.kernelSize, this.stride, this.padding].map((v) =>
      formatPythonTuple([v]),
    );
    return `kernel_size=${kernel}, stride=${stride}, padding=${padding}`;
  }
}
