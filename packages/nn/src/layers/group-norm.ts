// The GroupNorm layer: channels split into groups, each (sample, group) normalized, per-channel γ and β.
import { formatShape, noGrad, ones, type Tensor, zeros } from "@normgrad/core";
import { assertGroups, groupNorm } from "../functional/group-norm.ts";
import { assertFloat, assertPositiveInt, type FactoryOptions } from "../functional/validate.ts";
import { Module, Parameter } from "../module.ts";
import { formatPythonBool, formatPythonFloat } from "../repr.ts";

/** Options of `GroupNorm`. */
export interface GroupNormLayerOptions extends Pick<FactoryOptions, "dtype" | "device"> {
  /** Added to the variance under the square root (default 1e-5). */
  eps?: number;
  /** Learn a per-channel γ (`weight`, ones) and β (`bias`, zeros) (default true). */
  affine?: boolean;
}

/**
 * Group normalization of (N, C, *) input: the C = `numChannels` channels are split into
 * `numGroups` contiguous groups, each (sample, group) is normalized over its channels and
 * spatial dims, then `y = x̂·γ[c] + β[c]`. Independent of the batch size, so it works with
 * batches of one; `numGroups = 1` is LayerNorm over (C, *), `numGroups = C` InstanceNorm.
 */
export class GroupNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly affine: boolean;

  constructor(
    numGroups: number,
    numChannels: number,
    { eps = 1e-5, affine = true, dtype = "float32", device = "cpu" }: GroupNormLayerOptions = {},
  ) {
    super();
    assertPositiveInt(numChannels, "GroupNorm numChannels");
    assertGroups(numGroups, numChannels, "GroupNorm");
    if (!(eps >= 0 && Number.isFinite(eps)))
      throw new RangeError(`GroupNorm: eps must be a finite number ≥ 0, got ${eps}`);
    if (dtype === "int32") throw new TypeError("GroupNorm: dtype must be float32 or float64, got int32");
    this.numGroups = numGroups;
    this.numChannels = numChannels;
    this.eps = eps;
    this.affine = affine;
    this.weight = affine ? new Parameter(ones([numChannels], { dtype, device })) : null;
    this.bias = affine ? new Parameter(zeros([numChannels], { dtype, device })) : null;
  }

  /** γ back to 1 and β to 0. */
  resetParameters(): void {
    noGrad(() => {
      this.weight?.fill_(1);
      this.bias?.zero_();
    });
  }

  forward(x: Tensor): Tensor {
    assertFloat(x, "GroupNorm input");
    if (x.ndim < 2 || x.shape[1] !== this.numChannels) {
      throw new RangeError(
        `GroupNorm(${this.numGroups}, ${this.numChannels}) expects an (N, ${this.numChannels}, *) input, ` +
          `got shape ${formatShape(x.shape)}`,
      );
    }
    return groupNorm(x, this.numGroups, { weight: this.weight, bias: this.bias, eps: this.eps });
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${formatPythonFloat(this.eps)}, affine=${formatPythonBool(this.affine)}`;
  }
}
