// Batch normalization over every replica's batch: per-channel moments merged by Chan's formula, and the backward's all-reduced sums.
import { allocateTypedArray, defineOp, formatShape, fromValues, noGrad, type Tensor } from "@normgrad/core";
import { allGather, type ProcessGroup } from "../process-group.ts";
import { updateRunningStatistics } from "./batch-norm.ts";

/** Per-channel moments of one part of a batch: its count n (the same for every channel), means and M₂ = Σ(x − mean)². */
export interface ChannelMoments {
  count: number;
  mean: Float64Array;
  m2: Float64Array;
}

/** The moments of x viewed as (outer, channels, inner), by two passes in float64 over each channel. */
export function channelMoments(
  x: ArrayLike<number>,
  outer: number,
  channels: number,
  inner: number,
): ChannelMoments {
  const mean = new Float64Array(channels);
  const m2 = new Float64Array(channels);
  const count = outer * inner;
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) sum += x[base + i];
    }
    const mu = sum / count;
    let squares = 0;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) squares += (x[base + i] - mu) ** 2;
    }
    mean[c] = mu;
    m2[c] = squares;
  }
  return { count, mean, m2 };
}

/**
 * Merges the moments of disjoint parts into those of their union, left to right, by Chan, Golub
 * & LeVeque's pairwise formula (the step Welford's update takes with a part of one element):
 * `n = n_a + n_b`, `δ = μ_b − μ_a`, `μ = μ_a + δ·n_b/n`, `M₂ = M₂_a + M₂_b + δ²·n_a·n_b/n`,
 * in float64. No `E[x²] − E[x]²` is formed, so parts with large, different means keep their
 * digits. Parts with count 0 are skipped; throws on an empty list or mismatched channels.
 */
export function mergeMoments(parts: readonly ChannelMoments[]): ChannelMoments {
  if (parts.length === 0) throw new RangeError("mergeMoments needs at least one part, got none");
  const channels = parts[0].mean.length;
  const merged: ChannelMoments = {
    count: 0,
    mean: new Float64Array(channels),
    m2: new Float64Array(channels),
  };
  for (const [index, part] of parts.entries()) {
    if (part.mean.length !== channels || part.m2.length !== channels) {
      throw new RangeError(
        `mergeMoments: part ${index} has ${part.mean.length} means and ${part.m2.length} M2 values, ` +
          `part 0 has ${channels} channels`,
      );
    }
    if (!(Number.isInteger(part.count) && part.count >= 0)) {
      throw new RangeError(`mergeMoments: part ${index} has count ${part.count}, expected an integer ≥ 0`);
    }
    if (part.count === 0) continue;
    const n = merged.count + part.count;
    for (let c = 0; c < channels; c++) {
      const delta = part.mean[c] - merged.mean[c];
      merged.mean[c] += (delta * part.count) / n;
      merged.m2[c] += part.m2[c] + (delta * delta * merged.count * part.count) / n;
    }
    merged.count = n;
  }
  return merged;
}

/** Every rank's moments, gathered as one `[count, mean…, m2…]` row per rank and merged in rank order. */
function globalMoments(group: ProcessGroup, local: ChannelMoments): ChannelMoments {
  const channels = local.mean.length;
  const row = new Float64Array(1 + 2 * channels);
  row[0] = local.count;
  row.set(local.mean, 1);
  row.set(local.m2, 1 + channels);
  const rows = allGather(group, row);
  const parts = Array.from({ length: group.worldSize }, (_, rank) => {
    const start = rank * row.length;
    return {
      count: rows[start],
      mean: rows.subarray(start + 1, start + 1 + channels),
      m2: rows.subarray(start + 1 + channels, start + row.length),
    };
  });
  return mergeMoments(parts);
}

/** Options of {@link syncBatchNorm}. */
export interface SyncNormalizeOptions {
  weight: Tensor | null;
  bias: Tensor | null;
  /** m in `running = (1 − m)·running + m·batch`. */
  momentum: number;
  eps: number;
  group: ProcessGroup;
}

/**
 * Training-mode batch normalization of x (N, C, *) with the statistics of every rank's batch:
 * μ and σ² = M₂/n over the merged moments (n the global count), `y = (x − μ)/√(σ² + eps)·γ + β`,
 * running statistics updated with the unbiased M₂/(n − 1) (identically on every rank). Backward
 * all-reduces Σdy and Σdy·x̂ per channel and gives
 * `dx = (γs/n)·(n·dy − Σdy − x̂·Σ(dy·x̂))` with those global sums, s = 1/√(σ² + eps); dγ and dβ
 * are this rank's own sums (the trainer's gradient all-reduce adds them up). Computed in float64
 * over values read synchronously (the CPU backend), stored in x's dtype.
 */
export function syncBatchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  { weight, bias, momentum, eps, group }: SyncNormalizeOptions,
): Tensor {
  const [outer, channels] = x.shape;
  const inner = x.shape.slice(2).reduce((product, dim) => product * dim, 1);
  const values = x.dataSync();
  const moments = globalMoments(group, channelMoments(values, outer, channels, inner));
  const count = moments.count;
  if (count <= 1) {
    throw new RangeError(
      `SyncBatchNorm: expected more than 1 value per channel over all ${group.worldSize} replicas when training, ` +
        `got ${count} (this rank's input has shape ${formatShape(x.shape)})`,
    );
  }
  const invStd = moments.m2.map((m2) => 1 / Math.sqrt(m2 / count + eps));
  const gamma = weight === null ? null : weight.dataSync();
  const beta = bias === null ? null : bias.dataSync();
  const xhatAt = (index: number, c: number): number => (values[index] - moments.mean[c]) * invStd[c];
  const inputs = [x, ...(weight === null ? [] : [weight]), ...(bias === null ? [] : [bias])];
  const op = defineOp<Tensor[], null>({
    name: "syncBatchNorm",
    forward: () => {
      const y = allocateTypedArray(x.dtype, values.length);
      forEachElement(outer, channels, inner, (index, c) => {
        y[index] = xhatAt(index, c) * (gamma?.[c] ?? 1) + (beta?.[c] ?? 0);
      });
      return { output: fromValues(y, x.shape, { dtype: x.dtype, device: x.device }), saved: null };
    },
    backward: (dyTensor, _saved, needsInputGrad) => {
      const dy = dyTensor.dataSync();
      const local = new Float64Array(2 * channels);
      forEachElement(outer, channels, inner, (index, c) => {
        local[c] += dy[index];
        local[channels + c] += dy[index] * xhatAt(index, c);
      });
      const perChannel = (offset: number, like: Tensor): Tensor =>
        fromValues(local.subarray(offset, offset + channels), like.shape, {
          dtype: like.dtype,
          device: like.device,
        });
      const dweight = weight !== null && needsInputGrad[1] ? perChannel(channels, weight) : null;
      const dbias = bias !== null && needsInputGrad[weight === null ? 1 : 2] ? perChannel(0, bias) : null;
      let dx: Tensor | null = null;
      if (needsInputGrad[0]) {
        const sums = local.slice();
        group.allReduce(sums);
        const dxValues = allocateTypedArray(x.dtype, values.length);
        forEachElement(outer, channels, inner, (index, c) => {
          const scale = (gamma?.[c] ?? 1) * invStd[c];
          dxValues[index] =
            scale * (dy[index] - sums[c] / count - (xhatAt(index, c) * sums[channels + c]) / count);
        });
        dx = fromValues(dxValues, x.shape, { dtype: x.dtype, device: x.device });
      }
      return [dx, ...(weight === null ? [] : [dweight]), ...(bias === null ? [] : [dbias])];
    },
  });
  const output = op(...inputs);
  if (runningMean !== null && runningVar !== null) {
    const statistic = (data: Float64Array): Tensor =>
      fromValues(data, [channels], { dtype: "float64", device: runningMean.device });
    noGrad(() => {
      const batch = {
        mean: statistic(moments.mean),
        variance: statistic(moments.m2.map((m2) => m2 / (count - 1))),
      };
      updateRunningStatistics({ mean: runningMean, variance: runningVar }, batch, momentum, "SyncBatchNorm");
      batch.mean.dispose();
      batch.variance.dispose();
    });
  }
  return output;
}

/** Calls `body(index, channel)` for every element of a contiguous (outer, channels, inner) array. */
function forEachElement(
  outer: number,
  channels: number,
  inner: number,
  body: (index: number, channel: number) => void,
): void {
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) body(base + i, c);
    }
  }
}
