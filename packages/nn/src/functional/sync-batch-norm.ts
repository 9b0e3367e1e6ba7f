// Batch normalization over every replica's batch: per-channel moments merged by Chan's formula, and the backward's all-reduced sums.
import {
  type DType,
  defineOp,
  enableGrad,
  formatShape,
  fromValues,
  grad,
  type NormLayout,
  noGrad,
  onesLike,
  type Tensor,
  zerosLike,
} from "@normgrad/core";
import { allGather, type ProcessGroup } from "../process-group.ts";
import { updateRunningStatistics } from "./batch-norm.ts";
import { normalize } from "./normalize.ts";

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
 * are this rank's own sums (the trainer's gradient all-reduce adds them up). The local moments
 * and the normalization run on the backend's fused normalization kernels (BatchNorm's own, float64
 * statistics on the CPU); only the per-channel numbers cross the process group, in float64.
 */
export function syncBatchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  { weight, bias, momentum, eps, group }: SyncNormalizeOptions,
): Tensor {
  const [outer, channels] = x.shape;
  const inner = x.shape.slice(2).reduce((product, dim) => product * dim, 1);
  const layout = { kind: "per-channel", outer, channels, inner } as const;
  const moments = globalMoments(group, localMoments(x, layout));
  const count = moments.count;
  if (count <= 1) {
    throw new RangeError(
      `SyncBatchNorm: expected more than 1 value per channel over all ${group.worldSize} replicas when training, ` +
        `got ${count} (this rank's input has shape ${formatShape(x.shape)})`,
    );
  }
  const perChannel = (values: Float64Array, dtype: DType): Tensor =>
    fromValues(values, [channels], { dtype, device: x.device });
  const globalMean = perChannel(moments.mean, "float64");
  const globalVariance = perChannel(
    moments.m2.map((m2) => m2 / count),
    "float64",
  );
  const inputs = [x, ...(weight === null ? [] : [weight]), ...(bias === null ? [] : [bias])];
  const op = defineOp<Tensor[], null>({
    name: "syncBatchNorm",
    forward: () => {
      const statistics = { mean: globalMean, variance: globalVariance };
      return { output: normalize(x, layout, weight, bias, { eps, statistics }).output, saved: null };
    },
    backward: (dy, _saved, needsInputGrad) => {
      // The fused backward of normalizing with the global statistics as constants gives the
      // local sums Σdy·x̂ and Σdy (the weight's and bias's gradients) and s·γ·dy; the statistics'
      // share of dx, (γs/n)·(Σdy + x̂·Σdy·x̂) over the global sums, is then one more fused
      // normalization of x with that per-channel weight and bias.
      const statistics = { mean: globalMean, variance: globalVariance };
      const probe = {
        x: x.detach().requiresGrad_(),
        weight: (weight?.detach().clone() ?? onesLike(globalMean, { dtype: x.dtype })).requiresGrad_(),
        bias: zerosLike(globalMean, { dtype: x.dtype }).requiresGrad_(),
      };
      const probed = enableGrad(() =>
        normalize(probe.x, layout, probe.weight, probe.bias, { eps, statistics }),
      );
      const [scaledDy, sumDyXhat, sumDy] = grad([probed.output], [probe.x, probe.weight, probe.bias], {
        gradOutputs: [dy],
      });
      if (scaledDy === null || sumDyXhat === null || sumDy === null) {
        throw new Error("SyncBatchNorm: the normalization backward returned no gradient");
      }
      const dweight = weight !== null && needsInputGrad[1] ? sumDyXhat.reshape(weight.shape) : null;
      const dbias =
        bias !== null && needsInputGrad[weight === null ? 1 : 2] ? sumDy.reshape(bias.shape) : null;
      let dx: Tensor | null = null;
      if (needsInputGrad[0]) {
        const sums = new Float64Array(2 * channels);
        sums.set(sumDy.dataSync());
        sums.set(sumDyXhat.dataSync(), channels);
        group.allReduce(sums);
        const gamma = probe.weight.dataSync();
        const shareOf = (offset: number): Tensor =>
          perChannel(
            Float64Array.from(
              { length: channels },
              (_, c) => (gamma[c] * sums[offset + c]) / (count * Math.sqrt(moments.m2[c] / count + eps)),
            ),
            x.dtype,
          );
        const share = normalize(x, layout, shareOf(channels), shareOf(0), { eps, statistics }).output;
        dx = scaledDy.sub(share);
      }
      return [dx, ...(weight === null ? [] : [dweight]), ...(bias === null ? [] : [dbias])];
    },
  });
  const output = op(...inputs);
  if (runningMean !== null && runningVar !== null) {
    noGrad(() => {
      const batch = {
        mean: globalMean,
        variance: perChannel(
          moments.m2.map((m2) => m2 / (count - 1)),
          "float64",
        ),
      };
      updateRunningStatistics({ mean: runningMean, variance: runningVar }, batch, momentum, "SyncBatchNorm");
      batch.variance.dispose();
    });
  }
  return output;
}

/** This rank's per-channel (count, mean, M₂), from the normalization kernels' own statistics (float64 on the CPU). */
function localMoments(x: Tensor, layout: NormLayout & { kind: "per-channel" }): ChannelMoments {
  const { output, statistics } = noGrad(() =>
    normalize(x.detach(), layout, null, null, { eps: 0, statistics: null }),
  );
  output.dispose();
  if (statistics === null) throw new Error("SyncBatchNorm: the normalization returned no batch statistics");
  const count = layout.outer * layout.inner;
  const mean = Float64Array.from(statistics.mean.dataSync());
  const m2 = Float64Array.from(statistics.variance.dataSync(), (variance) => variance * count);
  statistics.mean.dispose();
  statistics.variance.dispose();
  return { count, mean, m2 };
}
