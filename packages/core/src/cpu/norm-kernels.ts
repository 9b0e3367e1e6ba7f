// Fused CPU normalization kernels (BatchNorm, LayerNorm, GroupNorm, InstanceNorm): float64 statistics, one sweep per pass.
import type { NormBackwardOptions, NormLayout, NormStatistics } from "../backend.ts";
import { allocateTypedArray, dtypeOfArray, type TypedArray } from "../dtype.ts";

// Each hot loop lives in a small function of its own: V8 compiles a long loop while it runs
// (on-stack replacement) and throws that code away at the first statement after it that has
// never run, so several big loops in one function would crawl through the interpreter.

/**
 * The input seen as (outer, blocks, channelsPerBlock, inner), row-major: a block is the
 * contiguous run of channels that shares one statistic within an outer index (one channel for
 * BatchNorm, a group otherwise). Block (o, b) uses statistic `o·statStride + b`.
 */
interface Blocks {
  readonly outer: number;
  readonly blocks: number;
  readonly channelsPerBlock: number;
  readonly inner: number;
  /** 0 when the statistics are shared across outer (BatchNorm), else the blocks per outer index. */
  readonly statStride: number;
  readonly statistics: number;
  /** Elements behind each statistic (the m of the formulas). */
  readonly count: number;
}

function blocksOf(layout: NormLayout): Blocks {
  const { outer, channels, inner } = layout;
  switch (layout.kind) {
    case "per-channel":
      return {
        outer,
        blocks: channels,
        channelsPerBlock: 1,
        inner,
        statStride: 0,
        statistics: channels,
        count: outer * inner,
      };
    case "per-group": {
      const channelsPerBlock = channels / layout.groups;
      return {
        outer,
        blocks: layout.groups,
        channelsPerBlock,
        inner,
        statStride: layout.groups,
        statistics: outer * layout.groups,
        count: channelsPerBlock * inner,
      };
    }
    default:
      return layout satisfies never;
  }
}

/** True for BatchNorm on (N, C): every channel is a column, read row by row. */
function isColumnLayout(layout: NormLayout): boolean {
  return layout.kind === "per-channel" && layout.inner === 1;
}

/** `values`, or `fill` repeated `size` times when absent (a missing weight is 1, a missing bias 0). */
function orConstant(values: TypedArray | null, size: number, fill: number): TypedArray {
  return values ?? new Float64Array(size).fill(fill);
}

// ---- statistics ------------------------------------------------------------------------------

/**
 * Adds Σ(x − k) and Σ(x − k)² over [start, end) to sums[statistic], squares[statistic]. With k
 * one of the statistic's own values, `Σd²/m − (Σd/m)²` cancels only as much as
 * (mean − k)²/σ², about 1, instead of mean²/σ² for `E[x²] − E[x]²`: in float64 that is as
 * accurate as two passes, for one read of x.
 */
function addShiftedSums(
  x: TypedArray,
  start: number,
  end: number,
  k: number,
  statistic: number,
  sums: Float64Array,
  squares: Float64Array,
): void {
  let sum = 0;
  let square = 0;
  for (let p = start; p < end; p++) {
    const d = x[p] - k;
    sum += d;
    square += d * d;
  }
  sums[statistic] += sum;
  squares[statistic] += square;
}

/** BatchNorm on (N, C): per-channel Σ(x − x[0, c]) and Σ(x − x[0, c])², walking memory in order. */
function columnShiftedSums(x: TypedArray, rows: number, sums: Float64Array, squares: Float64Array): void {
  const channels = sums.length;
  for (let r = 0; r < rows; r++) {
    const start = r * channels;
    for (let c = 0; c < channels; c++) {
      const d = x[start + c] - x[c];
      sums[c] += d;
      squares[c] += d * d;
    }
  }
}

/**
 * Mean and biased variance of every statistic, in float64, in one read of x: each statistic's
 * values are summed after a shift by its first value (see `addShiftedSums`); never
 * `E[x²] − E[x]²` on the raw values, so a large mean does not cancel the variance
 * (docs/normalization.md measures it).
 */
export function normStatistics(x: TypedArray, layout: NormLayout): NormStatistics<Float64Array> {
  const { outer, blocks, channelsPerBlock, inner, statStride, statistics, count } = blocksOf(layout);
  const sum = new Float64Array(statistics);
  const squares = new Float64Array(statistics);
  // The first value of each statistic: outer index 0 for BatchNorm, the run's start otherwise.
  const shift = new Float64Array(statistics);
  if (isColumnLayout(layout)) {
    columnShiftedSums(x, outer, sum, squares);
    shift.set(x.subarray(0, statistics));
  } else {
    const runLength = channelsPerBlock * inner;
    for (let o = 0, p = 0; o < outer; o++) {
      for (let b = 0; b < blocks; b++, p += runLength) {
        const k = o * statStride + b;
        if (o === 0 || statStride !== 0) shift[k] = x[p];
        addShiftedSums(x, p, p + runLength, shift[k], k, sum, squares);
      }
    }
  }
  const mean = new Float64Array(statistics);
  const variance = new Float64Array(statistics);
  for (let k = 0; k < statistics; k++) {
    const shiftedMean = sum[k] / count;
    mean[k] = shift[k] + shiftedMean;
    variance[k] = Math.max(0, squares[k] / count - shiftedMean * shiftedMean);
  }
  return { mean, variance };
}

// ---- forward ---------------------------------------------------------------------------------

function affineRange(
  x: TypedArray,
  out: TypedArray,
  start: number,
  end: number,
  m: number,
  scale: number,
  shift: number,
): void {
  for (let p = start; p < end; p++) out[p] = (x[p] - m) * scale + shift;
}

/** One element per channel (LayerNorm, GroupNorm on (N, C)): channels firstChannel… from `start`. */
function affineChannels(
  x: TypedArray,
  out: TypedArray,
  start: number,
  firstChannel: number,
  channels: number,
  m: number,
  invStd: number,
  gamma: TypedArray,
  beta: TypedArray,
): void {
  for (let j = 0; j < channels; j++) {
    const c = firstChannel + j;
    out[start + j] = (x[start + j] - m) * (gamma[c] * invStd) + beta[c];
  }
}

/** BatchNorm on (N, C): each row against per-channel mean, scale γ/√(σ²+ε) and shift β. */
function affineColumns(
  x: TypedArray,
  out: TypedArray,
  rows: number,
  mean: TypedArray,
  scale: Float64Array,
  beta: TypedArray,
): void {
  const channels = scale.length;
  for (let r = 0; r < rows; r++) {
    const start = r * channels;
    for (let c = 0; c < channels; c++) out[start + c] = (x[start + c] - mean[c]) * scale[c] + beta[c];
  }
}

/**
 * `y = (x − μ)·γ[c]/√(σ² + eps) + β[c]` in one sweep; x − μ is taken in float64, so a float32
 * input keeps its precision even where its mean is not representable in float32.
 */
function normalizeAffine(
  x: TypedArray,
  layout: NormLayout,
  weight: TypedArray | null,
  bias: TypedArray | null,
  { mean, variance }: NormStatistics<TypedArray>,
  eps: number,
): TypedArray {
  const { outer, blocks, channelsPerBlock, inner, statStride, statistics } = blocksOf(layout);
  const gamma = orConstant(weight, layout.channels, 1);
  const beta = orConstant(bias, layout.channels, 0);
  const out = allocateTypedArray(dtypeOfArray(x), x.length);
  const invStd = new Float64Array(statistics);
  for (let k = 0; k < statistics; k++) invStd[k] = 1 / Math.sqrt(variance[k] + eps);
  if (isColumnLayout(layout)) {
    const scale = invStd.map((s, c) => s * gamma[c]);
    affineColumns(x, out, outer, mean, scale, beta);
    return out;
  }
  for (let o = 0, p = 0; o < outer; o++) {
    for (let b = 0; b < blocks; b++) {
      const k = o * statStride + b;
      const firstChannel = b * channelsPerBlock;
      if (inner === 1) {
        affineChannels(x, out, p, firstChannel, channelsPerBlock, mean[k], invStd[k], gamma, beta);
        p += channelsPerBlock;
        continue;
      }
      for (let c = firstChannel; c < firstChannel + channelsPerBlock; c++, p += inner) {
        affineRange(x, out, p, p + inner, mean[k], gamma[c] * invStd[k], beta[c]);
      }
    }
  }
  return out;
}

/**
 * The fused forward: statistics from x (or the given ones), then normalize and apply the
 * affine. The statistics come back (float64) only when they were computed here.
 */
export function normForward(
  x: TypedArray,
  layout: NormLayout,
  weight: TypedArray | null,
  bias: TypedArray | null,
  eps: number,
  given: NormStatistics<TypedArray> | null,
): { output: TypedArray; statistics: NormStatistics<Float64Array> | null } {
  if (given !== null)
    return { output: normalizeAffine(x, layout, weight, bias, given, eps), statistics: null };
  const statistics = normStatistics(x, layout);
  return { output: normalizeAffine(x, layout, weight, bias, statistics, eps), statistics };
}

// ---- backward ------------------------------------------------------------------------------

/** The sums the backward needs: Σdy and Σdy·x̂ per channel, Σĝ and Σĝ·x̂ per statistic (ĝ = dy·γ[c]). */
interface GradientSums {
  readonly dySum: Float64Array;
  readonly dyXhatSum: Float64Array;
  readonly gSum: Float64Array;
  readonly gXhatSum: Float64Array;
}

/** Σdy into sums[0] and Σdy·(x − m) into sums[1], over [start, end). */
function rangeGradientSums(
  dy: TypedArray,
  x: TypedArray,
  start: number,
  end: number,
  m: number,
  sums: Float64Array,
): void {
  let dySum = 0;
  let dyCentred = 0;
  for (let p = start; p < end; p++) {
    const g = dy[p];
    dySum += g;
    dyCentred += g * (x[p] - m);
  }
  sums[0] = dySum;
  sums[1] = dyCentred;
}

/** One element per channel (LayerNorm): adds to the per-channel sums, returns Σĝ, Σĝ·x̂ in `sums`. */
function channelGradientSums(
  dy: TypedArray,
  x: TypedArray,
  start: number,
  firstChannel: number,
  channels: number,
  m: number,
  s: number,
  gamma: TypedArray,
  { dySum, dyXhatSum }: GradientSums,
  sums: Float64Array,
): void {
  let gSum = 0;
  let gXhatSum = 0;
  for (let j = 0; j < channels; j++) {
    const c = firstChannel + j;
    const g = dy[start + j];
    const dyXhat = g * (x[start + j] - m) * s;
    dySum[c] += g;
    dyXhatSum[c] += dyXhat;
    gSum += gamma[c] * g;
    gXhatSum += gamma[c] * dyXhat;
  }
  sums[0] = gSum;
  sums[1] = gXhatSum;
}

/** BatchNorm on (N, C): per-channel Σdy and Σdy·(x − μ[c]), walking memory in order. */
function columnGradientSums(
  dy: TypedArray,
  x: TypedArray,
  rows: number,
  mean: TypedArray,
  dySum: Float64Array,
  dyCentred: Float64Array,
): void {
  const channels = dySum.length;
  for (let r = 0; r < rows; r++) {
    const start = r * channels;
    for (let c = 0; c < channels; c++) {
      const g = dy[start + c];
      dySum[c] += g;
      dyCentred[c] += g * (x[start + c] - mean[c]);
    }
  }
}

function gradientSums(
  dy: TypedArray,
  x: TypedArray,
  layout: NormLayout,
  gamma: TypedArray,
  mean: TypedArray,
  invStd: Float64Array,
): GradientSums {
  const { outer, blocks, channelsPerBlock, inner, statStride, statistics } = blocksOf(layout);
  const sums: GradientSums = {
    dySum: new Float64Array(layout.channels),
    dyXhatSum: new Float64Array(layout.channels),
    gSum: new Float64Array(statistics),
    gXhatSum: new Float64Array(statistics),
  };
  if (isColumnLayout(layout)) {
    columnGradientSums(dy, x, outer, mean, sums.dySum, sums.dyXhatSum);
    for (let c = 0; c < layout.channels; c++) {
      sums.dyXhatSum[c] *= invStd[c];
      sums.gSum[c] = gamma[c] * sums.dySum[c];
      sums.gXhatSum[c] = gamma[c] * sums.dyXhatSum[c];
    }
    return sums;
  }
  const pair = new Float64Array(2);
  for (let o = 0, p = 0; o < outer; o++) {
    for (let b = 0; b < blocks; b++) {
      const k = o * statStride + b;
      const firstChannel = b * channelsPerBlock;
      if (inner === 1) {
        channelGradientSums(dy, x, p, firstChannel, channelsPerBlock, mean[k], invStd[k], gamma, sums, pair);
        sums.gSum[k] += pair[0];
        sums.gXhatSum[k] += pair[1];
        p += channelsPerBlock;
        continue;
      }
      for (let c = firstChannel; c < firstChannel + channelsPerBlock; c++, p += inner) {
        rangeGradientSums(dy, x, p, p + inner, mean[k], pair);
        const dyXhat = pair[1] * invStd[k];
        sums.dySum[c] += pair[0];
        sums.dyXhatSum[c] += dyXhat;
        sums.gSum[k] += gamma[c] * pair[0];
        sums.gXhatSum[k] += gamma[c] * dyXhat;
      }
    }
  }
  return sums;
}

function rangeInputGradient(
  dy: TypedArray,
  x: TypedArray,
  dx: TypedArray,
  start: number,
  end: number,
  m: number,
  k1: number,
  k2: number,
  k3: number,
): void {
  for (let p = start; p < end; p++) dx[p] = k1 * dy[p] + k2 * (x[p] - m) + k3;
}

/** One element per channel: `k₁ = s·γ[c]` varies along the row. */
function channelInputGradient(
  dy: TypedArray,
  x: TypedArray,
  dx: TypedArray,
  start: number,
  firstChannel: number,
  channels: number,
  m: number,
  s: number,
  gamma: TypedArray,
  k2: number,
  k3: number,
): void {
  for (let j = 0; j < channels; j++) {
    const p = start + j;
    dx[p] = s * gamma[firstChannel + j] * dy[p] + k2 * (x[p] - m) + k3;
  }
}

/** BatchNorm on (N, C), with per-channel coefficients. */
function columnInputGradient(
  dy: TypedArray,
  x: TypedArray,
  dx: TypedArray,
  rows: number,
  mean: TypedArray,
  k1: Float64Array,
  k2: Float64Array,
  k3: Float64Array,
): void {
  const channels = k1.length;
  for (let r = 0; r < rows; r++) {
    const start = r * channels;
    for (let c = 0; c < channels; c++) {
      const p = start + c;
      dx[p] = k1[c] * dy[p] + k2[c] * (x[p] - mean[c]) + k3[c];
    }
  }
}

/** dx = k₁·dy + k₂·(x − μ) + k₃, with k₁ = s·γ[c] and k₂, k₃ per statistic. */
function inputGradient(
  dy: TypedArray,
  x: TypedArray,
  layout: NormLayout,
  gamma: TypedArray,
  mean: TypedArray,
  invStd: Float64Array,
  k2: Float64Array,
  k3: Float64Array,
): TypedArray {
  const { outer, blocks, channelsPerBlock, inner, statStride } = blocksOf(layout);
  const dx = allocateTypedArray(dtypeOfArray(x), x.length);
  if (isColumnLayout(layout)) {
    columnInputGradient(
      dy,
      x,
      dx,
      outer,
      mean,
      invStd.map((s, c) => s * gamma[c]),
      k2,
      k3,
    );
    return dx;
  }
  for (let o = 0, p = 0; o < outer; o++) {
    for (let b = 0; b < blocks; b++) {
      const k = o * statStride + b;
      const firstChannel = b * channelsPerBlock;
      if (inner === 1) {
        channelInputGradient(
          dy,
          x,
          dx,
          p,
          firstChannel,
          channelsPerBlock,
          mean[k],
          invStd[k],
          gamma,
          k2[k],
          k3[k],
        );
        p += channelsPerBlock;
        continue;
      }
      for (let c = firstChannel; c < firstChannel + channelsPerBlock; c++, p += inner) {
        rangeInputGradient(dy, x, dx, p, p + inner, mean[k], invStd[k] * gamma[c], k2[k], k3[k]);
      }
    }
  }
  return dx;
}

/**
 * The fused backward, the simplified derivation of docs/normalization.md. Per statistic, with
 * x̂ = (x − μ)·s, s = 1/√(σ² + eps), ĝ = dy·γ[c] and m elements:
 *   dβ[c] = Σ dy,   dγ[c] = Σ dy·x̂                         (sums over the channel)
 *   dx = s·(ĝ − Σĝ/m − x̂·Σ(ĝ·x̂)/m)   (statistics from x; BatchNorm's γ factors out:
 *                                         dx = (γs/m)·(m·dy − Σdy − x̂·Σ(dy·x̂)))
 *   dx = s·ĝ                            (given statistics, e.g. eval mode)
 * One sweep collects the sums, one more writes dx as k₁·dy + k₂·(x − μ) + k₃ with
 * k₁ = s·γ[c], k₂ = −s²·Σ(ĝ·x̂)/m, k₃ = −s·Σĝ/m.
 */
export function normBackward(
  dy: TypedArray,
  x: TypedArray,
  layout: NormLayout,
  weight: TypedArray | null,
  { mean, variance }: NormStatistics<TypedArray>,
  { eps, statisticsFromInput, needs }: NormBackwardOptions,
): { dx: TypedArray | null; dweight: TypedArray | null; dbias: TypedArray | null } {
  const { statistics, count } = blocksOf(layout);
  const gamma = orConstant(weight, layout.channels, 1);
  const invStd = new Float64Array(statistics);
  for (let k = 0; k < statistics; k++) invStd[k] = 1 / Math.sqrt(variance[k] + eps);
  const needsSums = (needs.input && statisticsFromInput) || needs.weight || needs.bias;
  const sums = needsSums ? gradientSums(dy, x, layout, gamma, mean, invStd) : null;
  const k2 = new Float64Array(statistics);
  const k3 = new Float64Array(statistics);
  if (statisticsFromInput && sums !== null) {
    for (let k = 0; k < statistics; k++) {
      k2[k] = (-invStd[k] * invStd[k] * sums.gXhatSum[k]) / count;
      k3[k] = (-invStd[k] * sums.gSum[k]) / count;
    }
  }
  const perChannel = (values: Float64Array): TypedArray => {
    const out = allocateTypedArray(weight === null ? dtypeOfArray(x) : dtypeOfArray(weight), values.length);
    out.set(values);
    return out;
  };
  return {
    dx: needs.input ? inputGradient(dy, x, layout, gamma, mean, invStd, k2, k3) : null,
    dweight: needs.weight && sums !== null ? perChannel(sums.dyXhatSum) : null,
    dbias: needs.bias && sums !== null ? perChannel(sums.dySum) : null,
  };
}
