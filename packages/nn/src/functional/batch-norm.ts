// Functional BatchNorm: batch statistics in training (updating the running ones in place), running statistics in eval.
import {
  canFuseRunningStatistics,
  canUpdateRunningStatisticsOnDevice,
  checkValues,
  deviceRunningStatistics,
  formatShape,
  fusedRunningStatistics,
  type NormStatistics,
  noGrad,
  type Tensor,
  tidy,
  where,
} from "@normgrad/core";
import { normalize } from "./normalize.ts";
import { assertFloat, assertPerChannel } from "./validate.ts";

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

/**
 * Thrown (at once on the CPU, else by the next read on the device or `synchronize`) when a training batch
 * gives non-finite statistics: the input held NaN or ±∞, usually because training diverged.
 */
export class NonFiniteStatisticsError extends RangeError {
  override name = "NonFiniteStatisticsError";
}

/** The first channels listed in an error, then "…". */
function listChannels(channels: readonly number[]): string {
  return `${channels.slice(0, 8).join(", ")}${channels.length > 8 ? ", …" : ""}`;
}

/**
 * The error for a rejected update (null when every value is finite): the batch statistics
 * (unbiased variance) and the would-be running ones, per channel.
 */
function nonFiniteError(
  op: string,
  stored: string,
  [means, variances, nextMeans, nextVariances]: readonly ArrayLike<number>[],
): NonFiniteStatisticsError | null {
  const badBatch: number[] = [];
  const overflowing: number[] = [];
  for (let c = 0; c < means.length; c++) {
    if (!Number.isFinite(means[c]) || !Number.isFinite(variances[c])) badBatch.push(c);
    else if (!Number.isFinite(nextMeans[c]) || !Number.isFinite(nextVariances[c])) overflowing.push(c);
  }
  if (badBatch.length > 0) {
    const c = badBatch[0];
    return new NonFiniteStatisticsError(
      `${op}: the batch statistics of channel(s) ${listChannels(badBatch)} are not finite ` +
        `(channel ${c}: mean ${means[c]}, variance ${variances[c]}), so the running statistics were left ` +
        "unchanged: the input holds NaN or ±Infinity (check the layers before it, or lower the learning rate)",
    );
  }
  if (overflowing.length === 0) return null;
  const c = overflowing[0];
  return new NonFiniteStatisticsError(
    `${op}: the running statistics of channel(s) ${listChannels(overflowing)} would overflow ${stored} ` +
      `(channel ${c}: batch mean ${means[c]}, variance ${variances[c]}; updated mean ${nextMeans[c]}, ` +
      `variance ${nextVariances[c]}), so they were left unchanged: the input's values are too large ` +
      `for ${stored} statistics (check the layers before it, or convert the module with .to("float64"))`,
  );
}

/** `(1 − m)·running + m·batch` per channel, rounded to the running statistics' dtype. */
function nextValues(
  running: ArrayLike<number>,
  batch: ArrayLike<number>,
  momentum: number,
  stored: string,
): Float64Array {
  const round = stored === "float32" ? Math.fround : (value: number) => value;
  return Float64Array.from({ length: running.length }, (_, c) =>
    round((1 - momentum) * running[c] + momentum * batch[c]),
  );
}

/**
 * `running = (1 − m)·running + m·batch` for mean and variance (the batch variance times
 * `varianceScale` first, default 1), in place (the buffers keep their identity, so state dicts
 * and optimizers still see them), without recording a graph, computed in float64 where the device
 * has it and stored in the buffers' dtype. A non-finite batch statistic, or an updated value that
 * does not fit the buffers' dtype (a float32 variance above 3.4e38), throws a
 * `NonFiniteStatisticsError`, so one bad batch cannot silently poison the running statistics: at
 * once on the CPU, else at the next read on the device (see `checkValues`). The update itself is
 * skipped on the device when any stored value would be non-finite, so the running statistics stay
 * untouched either way.
 */
export function updateRunningStatistics(
  running: NormStatistics<Tensor>,
  batch: NormStatistics<Tensor>,
  momentum: number | Tensor,
  op: string,
  varianceScale = 1,
): void {
  if (typeof momentum === "number" && canUpdateRunningStatisticsOnDevice(running, batch)) {
    // Three kernels and no read: the device refuses a bad update and the check reads its flag later.
    const stored = running.mean.dtype;
    const refused = deviceRunningStatistics(running, batch, { momentum, varianceScale });
    checkValues(
      [batch.mean, batch.variance, running.mean, running.variance],
      ([means, biased, runningMeans, runningVariances]) => {
        const variances = Float64Array.from(biased, (value) => value * varianceScale);
        // A refused update left the running statistics as they were: the next values follow from them.
        return nonFiniteError(op, stored, [
          means,
          variances,
          nextValues(runningMeans, means, momentum, stored),
          nextValues(runningVariances, variances, momentum, stored),
        ]);
      },
      () => refused,
    );
    return;
  }
  if (varianceScale !== 1) {
    const scaled = { mean: batch.mean, variance: batch.variance.mul(varianceScale) };
    updateRunningStatistics(running, scaled, momentum, op);
    scaled.variance.dispose();
    return;
  }
  if (typeof momentum === "number" && canFuseRunningStatistics(running, batch)) {
    // One kernel instead of some twenty small ops (a quarter of BatchNorm1d (256, 1024) on the CPU).
    const { next, written } = fusedRunningStatistics(running, batch, { momentum, varianceScale: 1 });
    const values = [batch.mean.dataSync(), batch.variance.dataSync(), next.mean, next.variance];
    const error = written ? null : nonFiniteError(op, running.mean.dtype, values);
    if (error !== null) throw error;
    return;
  }
  noGrad(() =>
    tidy(() => {
      const stored = running.mean.dtype;
      const precise = running.mean.backend.dtypes.includes("float64") ? "float64" : stored;
      const m = typeof momentum === "number" ? momentum : momentum.to(precise);
      const retained = typeof m === "number" ? 1 - m : m.neg().add(1);
      // The values the buffers will hold, rounded to their dtype: a float64 statistic can be finite
      // while its float32 copy overflows to ∞, so finiteness is judged after the rounding.
      const next = {
        mean: running.mean.to(precise).mul(retained).add(batch.mean.to(precise).mul(m)).to(stored),
        variance: running.variance
          .to(precise)
          .mul(retained)
          .add(batch.variance.to(precise).mul(m))
          .to(stored),
      };
      // x − x is 0 exactly when x is finite (NaN and ±∞ give NaN). One bad channel skips the whole
      // update, as the synchronous check (which throws before writing) does.
      const finite = next.mean.sub(next.mean).eq(0).mul(next.variance.sub(next.variance).eq(0)).min();
      checkValues(
        [batch.mean, batch.variance, next.mean, next.variance],
        (values) => nonFiniteError(op, stored, values),
        () => where(finite, 0, 1),
      );
      running.mean.copy_(where(finite, next.mean, running.mean));
      running.variance.copy_(where(finite, next.variance, running.variance));
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
    // The running variance is the unbiased one, σ²·n/(n − 1).
    updateRunningStatistics(
      { mean: runningMean, variance: runningVar },
      statistics,
      momentum,
      "batchNorm",
      count / (count - 1),
    );
  }
  return output;
}
