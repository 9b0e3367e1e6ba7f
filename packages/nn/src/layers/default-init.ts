// PyTorch's default initialization of a weight and bias (Linear, Conv1d, Conv2d): one place for the rule.
import type { Generator } from "@normgrad/core";
import { calculateFanInAndFanOut, kaimingUniform_, uniform_ } from "../init.ts";
import type { Parameter } from "../module.ts";

/**
 * Draws `weight` from Kaiming-uniform with a = √5, i.e. U(±1/√fanIn), and `bias` (when present)
 * from U(±1/√fanIn), fanIn = weight.shape[1]·∏(kernel dims): PyTorch's `reset_parameters` of
 * Linear and the convolutions.
 */
export function resetWeightAndBias(weight: Parameter, bias: Parameter | null, generator?: Generator): void {
  kaimingUniform_(weight, { a: Math.sqrt(5), generator });
  if (bias === null) return;
  const bound = 1 / Math.sqrt(calculateFanInAndFanOut(weight)[0]);
  uniform_(bias, -bound, bound, { generator });
}
