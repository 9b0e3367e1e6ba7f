// moments(): mean and variance over axes by three algorithms, two stable and one that cancels catastrophically.
import { fromValues } from "./creation.ts";
import { isFloating } from "./dtype.ts";
import { cat } from "./ops.ts";
import { formatShape, normalizeAxes } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/**
 * How `moments` computes the variance:
 * - `"two-pass"` (default): shift by one element of each slice, take the mean of the shifted
 *   values, then the mean of their squared deviations. Stable.
 * - `"welford"`: Welford's running update in its pairwise form (Chan, Golub & LeVeque): halves
 *   are merged with `δ = μ_b − μ_a`, `μ = μ_a + δ·n_b/n`, `M₂ = M₂_a + M₂_b + δ²·n_a·n_b/n`. Stable.
 * - `"one-pass"`: `E[x²] − E[x]²`. Cancels catastrophically when the mean is large next to the
 *   spread (float32 data with mean 1e4 and std 1e-2 gets a variance off by ~8 instead of 1e-4);
 *   offered to show that failure, never used by the layers.
 */
export type VarianceAlgorithm = "two-pass" | "welford" | "one-pass";

/** Options of `moments`. */
export interface MomentsOptions {
  /** Default `"two-pass"`. */
  algorithm?: VarianceAlgorithm;
  /** Divide the sum of squared deviations by `n − correction`: 0 (default) biased, 1 unbiased. */
  correction?: number;
  /** Keep the reduced axes as size 1 (default false). */
  keepdim?: boolean;
}

/** The result of `moments`. */
export interface Moments {
  mean: Tensor;
  variance: Tensor;
}

/**
 * Mean and variance of `x` over `axes` (all when left out), computed in x's own dtype:
 * `mean = Σx/n`, `variance = Σ(x − mean)²/(n − correction)`, clamped at ≥ 0. Every algorithm is
 * composed from tensor ops, so the results are differentiable.
 *
 * ```ts
 * const { mean, variance } = moments(x, [0, 2, 3]);   // BatchNorm2d's batch statistics
 * ```
 */
export function moments(
  x: Tensor,
  axes?: number | readonly number[],
  { algorithm = "two-pass", correction = 0, keepdim = false }: MomentsOptions = {},
): Moments {
  if (!isFloating(x.dtype)) {
    throw new TypeError(`moments needs a float tensor, got ${x.dtype}: convert it with .to("float32")`);
  }
  const reduced = normalizeAxes(axes, x.ndim);
  const count = reduced.reduce((product, axis) => product * x.shape[axis], 1);
  if (count === 0) {
    throw new RangeError(`moments over an empty selection of shape ${formatShape(x.shape)}`);
  }
  if (count - correction <= 0) {
    throw new RangeError(
      `moments over ${count} element(s) with correction ${correction} divides by ${count - correction}: ` +
        "use correction 0 or reduce over more elements",
    );
  }
  const { mean, sumOfSquares } = centredMoments(x, reduced, count, algorithm);
  const variance = sumOfSquares.div(count - correction).clamp(0);
  if (keepdim) return { mean, variance };
  const shape = x.shape.filter((_, axis) => !reduced.includes(axis));
  return { mean: mean.reshape(shape), variance: variance.reshape(shape) };
}

/** The mean and the sum of squared deviations, both with the reduced axes kept as size 1. */
function centredMoments(
  x: Tensor,
  axes: readonly number[],
  count: number,
  algorithm: VarianceAlgorithm,
): { mean: Tensor; sumOfSquares: Tensor } {
  switch (algorithm) {
    case "two-pass": {
      // x − shift is exact for values within a factor 2 of the shift (Sterbenz), so the deviations
      // keep every bit even where the mean itself (1e4 in float32) is not representable.
      const shift = axes.reduce((slice, axis) => slice.narrow(axis, 0, 1), x).detach();
      const shifted = x.sub(shift);
      const shiftedMean = shifted.mean(axes, true);
      const deviations = shifted.sub(shiftedMean);
      return { mean: shift.add(shiftedMean), sumOfSquares: deviations.square().sum(axes, true) };
    }
    case "welford":
      return pairwiseWelford(x, axes);
    case "one-pass": {
      const mean = x.mean(axes, true);
      const sumOfSquares = x.square().mean(axes, true).sub(mean.square()).mul(count);
      return { mean, sumOfSquares };
    }
    default:
      return algorithm satisfies never;
  }
}

/**
 * Welford's update merged pairwise: the reduced elements go last as one axis of partial
 * results (count, mean, M₂), and halves are merged until one is left, `log₂ n` rounds of
 * tensor ops in x's dtype. An odd one out waits for the next round.
 */
function pairwiseWelford(x: Tensor, axes: readonly number[]): { mean: Tensor; sumOfSquares: Tensor } {
  const kept = x.shape.map((_, axis) => axis).filter((axis) => !axes.includes(axis));
  const keptShape = kept.map((axis) => x.shape[axis]);
  let mean = x.permute(...kept, ...axes).reshape([...keptShape, -1]);
  let sumOfSquares = mean.zerosLike();
  let counts: number[] = Array.from({ length: mean.shape[mean.ndim - 1] }, () => 1);
  const weights = (values: readonly number[]): Tensor =>
    fromValues(values, [values.length], { dtype: x.dtype, device: x.device });
  while (counts.length > 1) {
    const half = Math.floor(counts.length / 2);
    const countsA = counts.slice(0, half);
    const countsB = counts.slice(half, 2 * half);
    const merged = countsA.map((n, i) => n + countsB[i]);
    const last = mean.ndim - 1;
    const [meanA, meanB] = [mean.narrow(last, 0, half), mean.narrow(last, half, half)];
    const [m2A, m2B] = [sumOfSquares.narrow(last, 0, half), sumOfSquares.narrow(last, half, half)];
    const delta = meanB.sub(meanA);
    const mergedMean = meanA.add(delta.mul(weights(countsB.map((n, i) => n / merged[i]))));
    const mergedM2 = m2A
      .add(m2B)
      .add(delta.square().mul(weights(countsA.map((n, i) => (n * countsB[i]) / merged[i]))));
    const odd = counts.length % 2 === 1;
    mean = odd ? cat([mergedMean, mean.narrow(last, 2 * half, 1)], last) : mergedMean;
    sumOfSquares = odd ? cat([mergedM2, sumOfSquares.narrow(last, 2 * half, 1)], last) : mergedM2;
    counts = odd ? [...merged, counts[2 * half]] : merged;
  }
  const keepdimShape = x.shape.map((dim, axis) => (axes.includes(axis) ? 1 : dim));
  return { mean: mean.reshape(keepdimShape), sumOfSquares: sumOfSquares.reshape(keepdimShape) };
}
