// The Conv1d layer: 1-D convolution with stride, padding ('same'/'valid'), padding modes, dilation, groups and bias.
import { formatValue, type Generator, type Tensor, zeros } from "@normgrad/core";
import {
  assertConvPaddingMode,
  type Conv1dPadding,
  type ConvPaddingMode,
  conv1d,
  padForConv,
  resolveConvPadding,
} from "../functional/conv.ts";
import { assertConvChannels, type FactoryOptions } from "../functional/validate.ts";
import { Module, Parameter } from "../module.ts";
import { formatPythonTuple } from "../repr.ts";
import { resetWeightAndBias } from "./default-init.ts";

/** Options of `Conv1d`. */
export interface Conv1dLayerOptions extends FactoryOptions {
  /** Default 1. */
  stride?: number;
  /** An int, `"valid"` or `"same"` (stride 1 only); default 0. */
  padding?: Conv1dPadding;
  /** Default 1. */
  dilation?: number;
  /** Both channel counts must be divisible by it; default 1. */
  groups?: number;
  /** Default true. */
  bias?: boolean;
  /** `"zeros"` (default), or pad by `F.pad`'s `"reflect"`, `"replicate"` or `"circular"` before a padding-0 conv. */
  paddingMode?: ConvPaddingMode;
}

function assertInt(value: number, what: string, min: number): void {
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`${what} must be an integer ≥ ${min}, got ${formatValue(value)}`);
}

/**
 * 1-D convolution over (N, C, L) or (C, L) input (see `F.conv1d`). `weight` is
 * (outChannels, inChannels/groups, K) and `bias` (outChannels), both initialized as PyTorch:
 * U(±1/√fanIn) with fanIn = inChannels/groups·K (Kaiming uniform, a = √5).
 */
export class Conv1d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number | "same" | "valid";
  readonly dilation: number;
  readonly groups: number;
  readonly paddingMode: ConvPaddingMode;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inChannels: number, outChannels: number, kernelSize: number, options: Conv1dLayerOptions = {}) {
    super();
    const { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, paddingMode = "zeros" } = options;
    const { dtype = "float32", device = "cpu", generator } = options;
    assertConvChannels("Conv1d", inChannels, outChannels, groups);
    assertInt(kernelSize, "Conv1d kernelSize", 1);
    assertInt(stride, "Conv1d stride", 1);
    assertInt(dilation, "Conv1d dilation", 1);
    if (typeof padding === "number") assertInt(padding, "Conv1d padding", 0);
    assertConvPaddingMode(paddingMode, "Conv1d");
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = kernelSize;
    this.stride = stride;
    this.padding = padding;
    this.dilation = dilation;
    this.groups = groups;
    this.paddingMode = paddingMode;
    // Checks the padding now (e.g. "same" with a stride) rather than at the first forward.
    this.#amounts();
    this.weight = new Parameter(zeros([outChannels, inChannels / groups, kernelSize], { dtype, device }));
    this.bias = bias ? new Parameter(zeros([outChannels], { dtype, device })) : null;
    this.resetParameters({ generator });
  }

  #amounts(): [[number, number], [number, number]] {
    const padding = typeof this.padding === "number" ? ([0, this.padding] as const) : this.padding;
    return resolveConvPadding(padding, [1, this.kernelSize], [1, this.dilation], [1, this.stride]);
  }

  /** Re-draws weight and bias with the default initialization. */
  resetParameters({ generator }: { generator?: Generator } = {}): void {
    resetWeightAndBias(this.weight, this.bias, generator);
  }

  forward(x: Tensor): Tensor {
    const mode = this.paddingMode;
    return conv1d(mode === "zeros" ? x : padForConv(x, mode, this.#amounts(), 1), this.weight, {
      bias: this.bias,
      stride: this.stride,
      padding: mode === "zeros" ? this.padding : 0,
      dilation: this.dilation,
      groups: this.groups,
    });
  }

  override extraRepr(): string {
    const parts = [
      `${this.inChannels}, ${this.outChannels}, kernel_size=${formatPythonTuple([this.kernelSize])}`,
      `stride=${formatPythonTuple([this.stride])}`,
    ];
    if (typeof this.padding === "string") parts.push(`padding=${this.padding}`);
    else if (this.padding !== 0) parts.push(`padding=${formatPythonTuple([this.padding])}`);
    if (this.dilation !== 1) parts.push(`dilation=${formatPythonTuple([this.dilation])}`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (this.bias === null) parts.push("bias=False");
    if (this.paddingMode !== "zeros") parts.push(`padding_mode=${this.paddingMode}`);
    return parts.join(", ");
  }
}
