// Functional LayerNorm: each sample normalized over its trailing dims, with an elementwise affine.
import { formatShape, shapesEqual, type Tensor } from "@normgrad/core";
import { normalize } from "./normalize.ts";
import { assertFloat } from "./validate.ts";

/** Options of `layerNorm`. */
export interface LayerNormOptions {
  /** γ, of shape normalizedShape (default none: 1). */
  weight?: Tensor | null;
  /** β, of shape normalizedShape (default none: 0). */
  bias?: Tensor | null;
  /** Added to the variance under the square root (default 1e-5). */
  eps?: number;
}

/**
 * Layer normalization: every sample is normalized over its last `normalizedShape.length` dims,
 * `y = (x − μ)/√(σ² + eps)·weight + bias`, with the biased variance and an elementwise affine
 * of shape `normalizedShape`. The same in training and eval. The backward is the fused,
 * hand-derived one: `dx = σ⁻¹·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))` with ĝ = dy·γ.
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  { weight = null, bias = null, eps = 1e-5 }: LayerNormOptions = {},
): Tensor {
  assertFloat(x, "layerNorm input");
  const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
  const trailing = x.shape.slice(x.ndim - shape.length);
  if (shape.length === 0 || x.ndim < shape.length || !shapesEqual(trailing, shape)) {
    throw new RangeError(
      `layerNorm: normalizedShape ${formatShape(shape)} does not match the last ${shape.length} dim(s) of the ` +
        `input of shape ${formatShape(x.shape)}`,
    );
  }
  for (const [name, parameter] of [
    ["weight", weight],
    ["bias", bias],
  ] as const) {
    if (parameter !== null && !shapesEqual(parameter.shape, shape)) {
      throw new RangeError(
        `layerNorm: ${name} must have shape normalizedShape ${formatShape(shape)}, got ${formatShape(parameter.shape)}`,
      );
    }
  }
  const channels = shape.reduce((product, dim) => product * dim, 1);
  const layout = { kind: "per-group", outer: x.size / channels, channels, inner: 1, groups: 1 } as const;
  return normalize(x, layout, weight, bias, { eps, statistics: null }).output;
}
