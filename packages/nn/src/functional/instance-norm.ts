// Functional InstanceNorm: every (sample, channel) plane normalized on its own; optional running statistics.
import { formatShape, type Tensor } from "@normgrad/core";
import { updateRunningStatistics } from "./batch-norm.ts";
import { normalize } from "./normalize.ts";
import { assertFloat, assertPerChannel } from "./validate.ts";

/** Options of `instanceNorm`. */
export interface InstanceNormOptions {
  /** Running mean per channel, updated in training when given with `runningVar` (default none). */
  runningMean?: Tensor | null;
  /** Running (unbiased) variance per channel (default none). */
  runningVar?: Tensor | null;
  /** γ, one per channel (default none: 1). */
  weight?: Tensor | null;
  /** β, one per channel (default none: 0). */
  bias?: Tensor | null;
  /** Normalize each plane with its own statistics (default true); false uses the running statistics. */
  useInputStats?: boolean;
  /** m in `running = (1 − m)·running + m·batch` (default 0.1). */
  momentum?: number;
  /** Added to the variance under the square root (default 1e-5). */
  eps?: number;
}

/**
 * Instance normalization of x (N, C, *spatial): each (sample, channel) plane is normalized over
 * its spatial dims with the biased variance, then `y = x̂·weight[c] + bias[c]`. With running
 * statistics, they are updated (as PyTorch) with the mean over the batch of the planes' means and
 * unbiased variances; `useInputStats: false` normalizes with them instead.
 */
export function instanceNorm(
  x: Tensor,
  {
    runningMean = null,
    runningVar = null,
    weight = null,
    bias = null,
    useInputStats = true,
    momentum = 0.1,
    eps = 1e-5,
  }: InstanceNormOptions = {},
): Tensor {
  assertFloat(x, "instanceNorm input");
  if (x.ndim < 3) {
    throw new RangeError(
      `instanceNorm expects an input of shape (N, C, *spatial) with at least one spatial dim, got shape ${formatShape(x.shape)}`,
    );
  }
  const [outer, channels] = x.shape;
  const inner = x.shape.slice(2).reduce((product, dim) => product * dim, 1);
  if ((runningMean === null) !== (runningVar === null)) {
    throw new TypeError("instanceNorm: pass both runningMean and runningVar, or neither");
  }
  for (const [name, tensor] of Object.entries({ runningMean, runningVar, weight, bias })) {
    assertPerChannel(tensor, name, channels, "instanceNorm");
  }
  if (!useInputStats) {
    if (runningMean === null || runningVar === null) {
      throw new TypeError("instanceNorm with useInputStats: false needs runningMean and runningVar");
    }
    const layout = { kind: "per-channel", outer, channels, inner } as const;
    return normalize(x, layout, weight, bias, {
      eps,
      statistics: { mean: runningMean, variance: runningVar },
    }).output;
  }
  if (inner <= 1) {
    throw new RangeError(
      `instanceNorm: expected more than 1 spatial element when training, got input of shape ${formatShape(x.shape)}`,
    );
  }
  const layout = { kind: "per-group", outer, channels, inner, groups: channels } as const;
  const { output, statistics } = normalize(x, layout, weight, bias, { eps, statistics: null });
  if (runningMean !== null && runningVar !== null && statistics !== null) {
    const perChannel = {
      mean: statistics.mean.reshape([outer, channels]).mean(0),
      variance: statistics.variance
        .reshape([outer, channels])
        .mean(0)
        .mul(inner / (inner - 1)),
    };
    updateRunningStatistics(
      { mean: runningMean, variance: runningVar },
      perChannel,
      momentum,
      "instanceNorm",
    );
  }
  return output;
}
