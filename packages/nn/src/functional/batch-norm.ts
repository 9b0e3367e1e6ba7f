// Functional BatchNorm: batch statistics in training (updating the running ones in place), running statistics in eval.
import {
  checkValues,
  formatShape,
  type NormStatistics,
  noGrad,
  type Tensor,
  tidy,
  where,
} from "@normgrad/core";
import { normalize } from "./normalize.ts";
import { assertFloat } from "./validate.ts";

/** Options of `batchNorm`. */
export interface BatchNormOptions {
  /** γ, one per channel (default none: 1). */
  weight?: Tensor | null;
  /** β, one per channel (default none: 0). */
  bias?: Tensor | null;
  /** Normalize with the batch statistics and update the running ones (default false: use the running ones). */
  training?: boolean;
  /**
   * m in `running = (1 − m)·running + m·batch` (default 0.1, PyTorch's convention); a
   * one-element tensor stays on the device (BatchNorm's cumulative average, `momentum: null`).
   */
  momentum?: number | Tensor;
  /** Added to the variance under the square root (default 1e-5). */
  eps?: number;
}

/** Throws unless `tensor` is null or has shape [channels]. */
export function assertPerChannel(tensor: Tensor | null, name: string, channels: number, op: string): void {
  if (tensor !== null && (tensor.ndim !== 1 || tensor.shape[0] !== channels)) {
    throw new RangeError(
      `${op}: ${name} must have shape [${channels}] (one value per channel), got ${formatShape(tensor.shape)}`,
    );
  }
}

/**
 * Thrown (at once, or by the next `await data()` on an asynchronous device) when a training batch
 * gives non-finite statistics: the input held NaN or ±∞, usually because training diverged.
 */
export class NonFiniteStatisticsError extends RangeError {
  override name = "NonFiniteStatisticsError";
}

/**
 * `running = (1 − m)·running + m·batch` for mean and variance, in place (the buffers keep their
 * identity, so state dicts and optimizers still see them), without recording a graph, and in
 * float64 where the device has it. A non-finite batch statistic throws, so one bad batch cannot
 * silently poison the running statistics: at once where the device reads synchronously, else at
 * the next `await data()` (see `checkValues`); the update itself is skipped on the device when any
 * channel is non-finite, so the running statistics stay untouched either way.
 */
export function updateRunningStatistics(
  running: NormStatistics<Tensor>,
  batch: NormStatistics<Tensor>,
  momentum: number | Tensor,
  op: string,
): void {
  checkValues([batch.mean, batch.variance], ([means, variances]) => {
    const bad: number[] = [];
    for (let c = 0; c < means.length; c++) {
      if (!Number.isFinite(means[c]) || !Number.isFinite(variances[c])) bad.push(c);
    }
    if (bad.length === 0) return null;
    const c = bad[0];
    return new NonFiniteStatisticsError(
      `${op}: the batch statistics of channel(s) ${bad.slice(0, 8).join(", ")}${bad.length > 8 ? ", …" : ""} ` +
        `are not finite (channel ${c}: mean ${means[c]}, variance ${variances[c]}), so the running statistics ` +
        "were left unchanged: the input holds NaN or ±Infinity (check the layers before it, or lower the learning rate)",
    );
  });
  noGrad(() =>
    tidy(() => {
      const precise = running.mean.backend.dtypes.includes("float64") ? "float64" : running.mean.dtype;
      const m = typeof momentum === "number" ? momentum : momentum.to(precise);
      const retained = typeof m === "number" ? 1 - m : m.neg().add(1);
      // x − x is 0 exactly when x is finite (NaN and ±∞ give NaN). One bad channel skips the whole
      // update, as the synchronous check (which throws before writing) does.
      const finite = batch.mean.sub(batch.mean).eq(0).mul(batch.variance.sub(batch.variance).eq(0)).min();
      for (const key of ["mean", "variance"] as const) {
        const target = running[key];
        const current = target.to(precise);
        target.copy_(where(finite, current.mul(retained).add(batch[key].to(precise).mul(m)), current));
      }
    }),
  );
}

/**
 * Batch normalization over the channel dim of x (N, C, *):
 * `y = (x − μ)/√(σ² + eps)·weight + bias`, per channel. In training, μ and σ² are the batch's
 * mean and **biased** variance over (N, *), and the running statistics (when given) are updated
 * with the **unbiased** variance σ²·n/(n − 1): `running = (1 − momentum)·running + momentum·batch`.
 * Otherwise the running statistics are used. The backward is the fused, hand-derived one
 * (`dx = (γσ⁻¹/n)·(n·dy − Σdy − x̂·Σ(dy·x̂))` in training, `γσ⁻¹·dy` with running statistics).
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  { weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-5 }: BatchNormOptions = {},
): Tensor {
  assertFloat(x, "batchNorm input");
  if (x.ndim < 2) {
    throw new RangeError(`batchNorm expects an input of shape (N, C, *), got shape ${formatShape(x.shape)}`);
  }
  const [outer, channels] = x.shape;
  const inner = x.shape.slice(2).reduce((product, dim) => product * dim, 1);
  if ((runningMean === null) !== (runningVar === null)) {
    throw new TypeError("batchNorm: pass both runningMean and runningVar, or neither");
  }
  assertPerChannel(runningMean, "runningMean", channels, "batchNorm");
  assertPerChannel(runningVar, "runningVar", channels, "batchNorm");
  assertPerChannel(weight, "weight", channels, "batchNorm");
  assertPerChannel(bias, "bias", channels, "batchNorm");
  const layout = { kind: "per-channel", outer, channels, inner } as const;
  if (!training) {
    if (runningMean === null || runningVar === null) {
      throw new TypeError(
        "batchNorm with training: false normalizes with the running statistics, so it needs runningMean and " +
          "runningVar; pass training: true to use the batch statistics instead",
      );
    }
    return normalize(x, layout, weight, bias, {
      eps,
      statistics: { mean: runningMean, variance: runningVar },
    }).output;
  }
  const count = outer * inner;
  if (count <= 1) {
    throw new RangeError(
      `batchNorm: expected more than 1 value per channel when training, got input of shape ${formatShape(x.shape)}: ` +
        "use batches of at least 2 (dropLast: true in the DataLoader drops a last batch of 1), call eval() for " +
        "inference, or use GroupNorm or LayerNorm, which normalize each sample on its own",
    );
  }
  const { output, statistics } = normalize(x, layout, weight, bias, { eps, statistics: null });
  if (runningMean !== null && runningVar !== null && statistics !== null) {
    const unbiased = { mean: statistics.mean, variance: statistics.variance.mul(count / (count - 1)) };
    updateRunningStatistics({ mean: runningMean, variance: runningVar }, unbiased, momentum, "batchNorm");
  }
  return output;
}
