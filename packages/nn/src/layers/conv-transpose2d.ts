// The ConvTranspose2d layer: a learned upsampling, the transpose of Conv2d with the same geometry options.
import { formatShape, type Generator, type Tensor, zeros } from "@normgrad/core";
import { convTranspose2d } from "../functional/conv-transpose.ts";
import { assertConvChannels, type FactoryOptions, type IntPair, toPair } from "../functional/validate.ts";
import { Module, Parameter } from "../module.ts";
import { formatPythonTuple } from "../repr.ts";
import { resetWeightAndBias } from "./default-init.ts";

/** Options of `ConvTranspose2d`; PyTorch's names and defaults (padding mode "zeros" only, as PyTorch). */
export interface ConvTranspose2dLayerOptions extends FactoryOptions {
  /** Default 1. */
  stride?: IntPair;
  /** Default 0. */
  padding?: IntPair;
  /** Default 0; must be smaller than the stride or the dilation. */
  outputPadding?: IntPair;
  /** Default 1. */
  groups?: number;
  /** Default true. */
  bias?: boolean;
  /** Default 1. */
  dilation?: IntPair;
}

/**
 * 2-D transposed convolution (see `F.convTranspose2d`): (N, inChannels, H, W) → (N, outChannels,
 * OH, OW), `OH = (H − 1)·stride − 2·padding + dilation·(KH − 1) + outputPadding + 1`. `weight` is
 * (inChannels, outChannels/groups, KH, KW) and `bias` (outChannels), drawn as PyTorch's:
 * U(±1/√fanIn) with fanIn = outChannels/groups·KH·KW.
 */
export class ConvTranspose2d extends Module<[Tensor, number[]?]> {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: IntPair,
    options: ConvTranspose2dLayerOptions = {},
  ) {
    super();
    const { stride = 1, padding = 0, outputPadding = 0, groups = 1, bias = true, dilation = 1 } = options;
    const { dtype = "float32", device = "cpu", generator } = options;
    assertConvChannels("ConvTranspose2d", inChannels, outChannels, groups);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = toPair(kernelSize, "ConvTranspose2d kernelSize", 1);
    this.stride = toPair(stride, "ConvTranspose2d stride", 1);
    this.padding = toPair(padding, "ConvTranspose2d padding", 0);
    this.outputPadding = toPair(outputPadding, "ConvTranspose2d outputPadding", 0);
    this.dilation = toPair(dilation, "ConvTranspose2d dilation", 1);
    for (const axis of [0, 1] as const) {
      if (this.outputPadding[axis] >= this.stride[axis] && this.outputPadding[axis] >= this.dilation[axis]) {
        throw new RangeError(
          `ConvTranspose2d: outputPadding ${formatPythonTuple(this.outputPadding)} must be smaller than stride ` +
            `${formatPythonTuple(this.stride)} or dilation ${formatPythonTuple(this.dilation)} on each axis`,
        );
      }
    }
    this.groups = groups;
    this.weight = new Parameter(
      zeros([inChannels, outChannels / groups, ...this.kernelSize], { dtype, device }),
    );
    this.bias = bias ? new Parameter(zeros([outChannels], { dtype, device })) : null;
    this.resetParameters({ generator });
  }

  /** Re-draws weight and bias with the default initialization. */
  resetParameters({ generator }: { generator?: Generator } = {}): void {
    resetWeightAndBias(this.weight, this.bias, generator);
  }

  /**
   * `outputSize` ([OH, OW], or a full shape whose last two entries are taken) picks the output
   * size among those the stride maps to the input's, in place of `outputPadding`, as PyTorch's.
   */
  forward(x: Tensor, outputSize?: number[]): Tensor {
    const { stride, padding, groups, dilation } = this;
    const outputPadding = outputSize === undefined ? this.outputPadding : this.#paddingFor(x, outputSize);
    return convTranspose2d(x, this.weight, {
      bias: this.bias,
      stride,
      padding,
      outputPadding,
      groups,
      dilation,
    });
  }

  /** The outputPadding that gives `outputSize`: sizes from the smallest up to stride − 1 more. */
  #paddingFor(x: Tensor, outputSize: number[]): [number, number] {
    const requested = outputSize.slice(-2);
    const smallest = ([0, 1] as const).map(
      (axis) =>
        (x.shape[x.ndim - 2 + axis] - 1) * this.stride[axis] -
        2 * this.padding[axis] +
        this.dilation[axis] * (this.kernelSize[axis] - 1) +
        1,
    );
    const largest = smallest.map((size, axis) => size + this.stride[axis] - 1);
    if (
      requested.length !== 2 ||
      requested.some((size, axis) => !Number.isInteger(size) || size < smallest[axis] || size > largest[axis])
    ) {
      throw new RangeError(
        `ConvTranspose2d: requested an output size of ${formatShape(outputSize)}, but valid sizes range from ` +
          `${formatShape(smallest)} to ${formatShape(largest)} (for an input of ${formatShape(x.shape)})`,
      );
    }
    return [requested[0] - smallest[0], requested[1] - smallest[1]];
  }

  override extraRepr(): string {
    const parts = [
      `${this.inChannels}, ${this.outChannels}, kernel_size=${formatPythonTuple(this.kernelSize)}`,
      `stride=${formatPythonTuple(this.stride)}`,
    ];
    if (this.padding.some((pad) => pad !== 0)) parts.push(`padding=${formatPythonTuple(this.padding)}`);
    if (this.dilation.some((step) => step !== 1)) parts.push(`dilation=${formatPythonTuple(this.dilation)}`);
    if (this.outputPadding.some((pad) => pad !== 0)) {
      parts.push(`output_padding=${formatPythonTuple(this.outputPadding)}`);
    }
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (this.bias === null) parts.push("bias=False");
    return parts.join(", ");
  }
}
