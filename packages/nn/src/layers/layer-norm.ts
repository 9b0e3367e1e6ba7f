// The LayerNorm layer: each sample normalized over its trailing dims, with an elementwise γ and β.
import { noGrad, ones, type Tensor, zeros } from "@normgrad/core";
import { layerNorm } from "../functional/layer-norm.ts";
import { assertPositiveInt, type FactoryOptions } from "../functional/validate.ts";
import { Module, Parameter } from "../module.ts";
import { formatPythonBool, formatPythonFloat, formatPythonTuple } from "../repr.ts";

/** Options of `LayerNorm`. */
export interface LayerNormLayerOptions extends Pick<FactoryOptions, "dtype" | "device"> {
  /** Added to the variance under the square root (default 1e-5). */
  eps?: number;
  /** Learn γ (`weight`, ones) of shape normalizedShape (default true). */
  elementwiseAffine?: boolean;
  /** Learn β (`bias`, zeros) too, when elementwiseAffine (default true). */
  bias?: boolean;
}

/**
 * Layer normalization over the last dims, which must equal `normalizedShape`:
 * `y = (x − E[x])/√(Var[x] + eps)·γ + β`, with statistics per sample (biased variance) and
 * γ, β of shape `normalizedShape`. No running statistics: training and eval are the same.
 *
 * ```ts
 * const norm = new LayerNorm(1024);          // over the last dim
 * const y = norm.forward(randn([256, 1024]));
 * ```
 */
export class LayerNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;

  constructor(
    normalizedShape: number | readonly number[],
    {
      eps = 1e-5,
      elementwiseAffine = true,
      bias = true,
      dtype = "float32",
      device = "cpu",
    }: LayerNormLayerOptions = {},
  ) {
    super();
    const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    if (shape.length === 0) throw new RangeError("LayerNorm: normalizedShape must name at least one dim");
    for (const dim of shape)
      assertPositiveInt(dim, `LayerNorm normalizedShape [${shape.join(", ")}]: each size`);
    if (!(eps >= 0 && Number.isFinite(eps)))
      throw new RangeError(`LayerNorm: eps must be a finite number ≥ 0, got ${eps}`);
    if (dtype === "int32") throw new TypeError("LayerNorm: dtype must be float32 or float64, got int32");
    this.normalizedShape = shape;
    this.eps = eps;
    this.elementwiseAffine = elementwiseAffine;
    this.weight = elementwiseAffine ? new Parameter(ones(shape, { dtype, device })) : null;
    this.bias = elementwiseAffine && bias ? new Parameter(zeros(shape, { dtype, device })) : null;
  }

  /** γ back to 1 and β to 0. */
  resetParameters(): void {
    noGrad(() => {
      this.weight?.fill_(1);
      this.bias?.zero_();
    });
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.eps });
  }

  override extraRepr(): string {
    return (
      `${formatPythonTuple(this.normalizedShape)}, eps=${formatPythonFloat(this.eps)}, ` +
      `elementwise_affine=${formatPythonBool(this.elementwiseAffine)}`
    );
  }
}
