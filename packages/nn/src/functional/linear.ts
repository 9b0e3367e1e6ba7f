// Functional linear layer: y = x·Wᵀ + b.
import { formatShape, type Tensor } from "@normgrad/core";
import { assertFloat, assertSameDType } from "./validate.ts";

/**
 * `y = x·Wᵀ + b` for x (…, in), weight (out, in) and an optional bias (out); y is (…, out).
 * All three must have one dtype (a float32 layer refuses float64 input instead of widening).
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  assertFloat(x, "linear input");
  if (weight.ndim !== 2)
    throw new RangeError(`linear: weight must be 2-D (out, in), got ${formatShape(weight.shape)}`);
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new RangeError(
      `linear: input ${formatShape(x.shape)} must end in in_features = ${weight.shape[1]} ` +
        `(weight ${formatShape(weight.shape)})`,
    );
  }
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new RangeError(`linear: bias ${formatShape(bias.shape)} must be [${weight.shape[0]}]`);
  }
  assertSameDType("linear", x, [
    ["weight", weight],
    ["bias", bias],
  ]);
  const y = x.matmul(weight.mT);
  return bias === null ? y : y.add(bias);
}
