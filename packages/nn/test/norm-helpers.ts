// What the normalization tests share beyond @normgrad/testing: the dtypes they run in, their tolerances, the largest error.
import type { Tensor } from "@normgrad/core";
import type { FixtureTensor, Tolerance } from "@normgrad/testing";

/** The dtypes the fixtures are run in. */
export type FloatDType = "float32" | "float64";

/** Per-dtype tolerances against the float64 PyTorch values (ARCHITECTURE.md §6). */
export const TOLERANCES: { [D in FloatDType]: { output: Tolerance; stats: Tolerance } } = {
  float64: { output: { rtol: 1e-10, atol: 1e-12 }, stats: { rtol: 1e-12, atol: 1e-14 } },
  float32: { output: { rtol: 5e-4, atol: 1e-5 }, stats: { rtol: 1e-5, atol: 1e-7 } },
};

/** The largest |actual − expected| over all elements. */
export function maxAbsError(actual: Tensor, expected: FixtureTensor | ArrayLike<number>): number {
  const values = actual.dataSync();
  const reference = "data" in expected ? expected.data : expected;
  let worst = 0;
  for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(values[i] - reference[i]));
  return worst;
}
