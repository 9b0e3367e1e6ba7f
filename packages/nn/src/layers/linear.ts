// The Linear layer: y = x·Wᵀ + b with PyTorch's default initialization.
import { type Generator, type Tensor, zeros } from "@normgrad/core";
import { linear } from "../functional/linear.ts";
import { assertPositiveInt, type FactoryOptions } from "../functional/validate.ts";
import { Module, Parameter } from "../module.ts";
import { formatPythonBool } from "../repr.ts";
import { resetWeightAndBias } from "./default-init.ts";

/**
 * Applies `y = x·Wᵀ + b` to the last dim of x (…, inFeatures) → (…, outFeatures).
 * `weight` (outFeatures, inFeatures) and `bias` (outFeatures) start as PyTorch's: Kaiming
 * uniform with a = √5, i.e. U(±1/√inFeatures), for both. `bias: false` leaves `bias` null.
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(
    inFeatures: number,
    outFeatures: number,
    { bias = true, dtype = "float32", device = "cpu", generator }: FactoryOptions & { bias?: boolean } = {},
  ) {
    super();
    assertPositiveInt(inFeatures, "Linear inFeatures");
    assertPositiveInt(outFeatures, "Linear outFeatures");
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = new Parameter(zeros([outFeatures, inFeatures], { dtype, device }));
    this.bias = bias ? new Parameter(zeros([outFeatures], { dtype, device })) : null;
    this.resetParameters({ generator });
  }

  /** Re-draws weight and bias with the default initialization. */
  resetParameters({ generator }: { generator?: Generator } = {}): void {
    resetWeightAndBias(this.weight, this.bias, generator);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${formatPythonBool(this.bias !== null)}`;
  }
}
