// The Conv2d layer: 2-D convolution with stride, padding ('same'/'valid'), padding modes, dilation, groups and bias.
import { type Generator, type Tensor, zeros } from "@normgrad/core";
import {
  assertConvPaddingMode,
  type Conv2dPadding,
  type ConvPaddingMode,
  conv2d,
  padForConv,
  resolveConvPadding,
} from "../functional/conv.ts";
import { assertConvChannels, type FactoryOptions, type IntPair, toPair } from "../functional/validate.ts";
import { Module, Parameter } from "../module.ts";
import { formatPythonTuple } from "../repr.ts";
import { resetWeightAndBias } from "./default-init.ts";

/** Options of `Conv2d`. */
export interface Conv2dLayerOptions extends FactoryOptions {
  /** Default 1. */
  stride?: IntPair;
  /** An int, `[height, width]`, `"valid"` or `"same"` (stride 1 only); default 0. */
  padding?: Conv2dPadding;
  /** Default 1. */
  dilation?: IntPair;
  /** Both channel counts must be divisible by it; `groups = inChannels` is a depthwise conv. Default 1. */
  groups?: number;
  /** Default true. */
  bias?: boolean;
  /** `"zeros"` (default), or pad by `F.pad`'s `"reflect"`, `"replicate"` or `"circular"` before a padding-0 conv. */
  paddingMode?: ConvPaddingMode;
}

/**
 * 2-D convolution over (N, C, H, W) or (C, H, W) input (see `F.conv2d`). `weight` is
 * (outChannels, inChannels/groups, KH, KW) and `bias` (outChannels), both initialized as
 * PyTorch: U(±1/√fanIn) with fanIn = inChannels/groups·KH·KW (Kaiming uniform, a = √5).
 */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number] | "same" | "valid";
  readonly dilation: [number, number];
  readonly groups: number;
  readonly paddingMode: ConvPaddingMode;
  weight: Parameter;
  bias: Parameter | null;

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: IntPair,
    options: Conv2dLayerOptions = {},
  ) {
    super();
    const { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, paddingMode = "zeros" } = options;
    const { dtype = "float32", device = "cpu", generator } = options;
    assertConvChannels("Conv2d", inChannels, outChannels, groups);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = toPair(kernelSize, "Conv2d kernelSize", 1);
    this.stride = toPair(stride, "Conv2d stride", 1);
    this.dilation = toPair(dilation, "Conv2d dilation", 1);
    this.padding = typeof padding === "string" ? padding : toPair(padding, "Conv2d padding", 0);
    // Checks the padding now (e.g. "same" with a stride) rather than at the first forward.
    resolveConvPadding(padding, this.kernelSize, this.dilation, this.stride);
    this.groups = groups;
    assertConvPaddingMode(paddingMode, "Conv2d");
    this.paddingMode = paddingMode;
    const shape = [outChannels, inChannels / groups, ...this.kernelSize];
    this.weight = new Parameter(zeros(shape, { dtype, device }));
    this.bias = bias ? new Parameter(zeros([outChannels], { dtype, device })) : null;
    this.resetParameters({ generator });
  }

  /** Re-draws weight and bias with the default initialization. */
  resetParameters({ generator }: { generator?: Generator } = {}): void {
    resetWeightAndBias(this.weight, this.bias, generator);
  }

  forward(x: Tensor): Tensor {
    const mode = this.paddingMode;
    const amounts = resolveConvPadding(this.padding, this.kernelSize, this.dilation, this.stride);
    return conv2d(mode === "zeros" ? x : padForConv(x, mode, amounts, 2), this.weight, {
      bias: this.bias,
      stride: this.stride,
      padding: mode === "zeros" ? this.padding : 0,
      dilation: this.dilation,
      groups: this.groups,
    });
  }

  override extraRepr(): string {
    const parts = [
      `${this.inChannels}, ${this.outChannels}, kernel_size=${formatPythonTuple(this.kernelSize)}`,
      `stride=${formatPythonTuple(this.stride)}`,
    ];
    const padding = this.padding;
    if (typeof padding === "string") parts.push(`padding=${padding}`);
    else if (padding.some((pad) => pad !== 0)) parts.push(`padding=${formatPythonTuple(padding)}`);
    if (this.dilation.some((step) => step !== 1)) parts.push(`dilation=${formatPythonTuple(this.dilation)}`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (this.bias === null) parts.push("bias=False");
    if (this.paddingMode !== "zeros") parts.push(`padding_mode=${this.paddingMode}`);
    return parts.join(", ");
  }
}
