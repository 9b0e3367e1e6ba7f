// Fused CPU normalization kernels (BatchNorm, LayerNorm, GroupNorm, InstanceNorm): float64 statistics, one sweep per pass.
import type { NormBackwardOptions } from "../backend.ts";
import { allocateTypedArray, dtypeOfArray, type TypedArray } from "../dtype.ts";
import {
  forEachChannelRun,
  type NormBlocks,
  type NormLayout,
  type NormStatistics,
  normBlocks,
} from "../norm-layout.ts";
import { takeArray, takeFloat32 } from "./buffer-pool.ts";
import {
  canFuseGroupPasses,
  canUseWasmNorm,
  wasmGradientSums,
  wasmGroupBackward,
  wasmGroupForward,
  wasmInputGradient,
  wasmNormalize,
  wasmShiftedSums,
} from "./wasm-norm.ts";

// Each hot loop lives in a small function of its own: V8 compiles a long loop while it runs
// (on-stack replacement) and throws that code away at the first statement after it that has
// never run, so several big loops in one function would crawl through the interpreter.
//
// Where every element has its own channel (inner = 1: BatchNorm on (N, C), LayerNorm), the
// loops take several rows per sweep, so each per-channel value (μ, γ, a coefficient) is read and
// each per-channel sum updated once for all of them instead of once per element: 4 rows for
// BatchNorm, 2 for LayerNorm (whose per-row sums then fill the registers). Measured on W2/W3's
// (256, 1024), forward + backward: BatchNorm1d 2.5×, LayerNorm 1.45× faster than a row per
// sweep. Sums along a contiguous run keep two accumulators, so consecutive additions need not
// wait for each other. Both change only the order of float64 additions, not what is summed.

/** True for BatchNorm on (N, C): every channel is a column, read row by row. */
function isColumnLayout(layout: NormLayout): boolean {
  return layout.kind === "per-channel" && layout.inner === 1;
}

/** Rows of a column layout taken per sweep: 4 per-channel values and 4 elements per sum update. */
const COLUMN_ROWS = 4;

/**
 * Visits the blocks of a per-group layout with one element per channel (inner = 1) two rows at
 * a time, so the per-channel values and sums are touched once per pair: `visit(start,
 * firstChannel, k, rowStep, statStep)` gets a block's first element, first channel and
 * statistic, and the steps to the same block of the next row. An odd last row comes with both
 * steps 0: the pair kernels then write its values twice over, the sums kernel takes it alone.
 */
function forEachBlockPair(
  layout: NormLayout,
  visit: (start: number, firstChannel: number, k: number, rowStep: number, statStep: number) => void,
): void {
  const { outer, blocks, channelsPerBlock, statStride } = normBlocks(layout);
  const rowLength = layout.channels;
  for (let o = 0; o < outer; o += 2) {
    const paired = o + 1 < outer;
    for (let b = 0; b < blocks; b++) {
      const firstChannel = b * channelsPerBlock;
      visit(
        o * rowLength + firstChannel,
        firstChannel,
        o * statStride + b,
        paired ? rowLength : 0,
        paired ? statStride : 0,
      );
    }
  }
}

/** `values`, or `fill` repeated `size` times when absent (a missing weight is 1, a missing bias 0). */
function orConstant(values: TypedArray | null, size: number, fill: number): TypedArray {
  return values ?? new Float64Array(size).fill(fill);
}

/** 1/√(σ² + eps) per statistic, in float64. */
function inverseStd(variance: TypedArray, eps: number): Float64Array {
  const invStd = new Float64Array(variance.length);
  for (let k = 0; k < variance.length; k++) invStd[k] = 1 / Math.sqrt(variance[k] + eps);
  return invStd;
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
  let sumA = 0;
  let squareA = 0;
  let sumB = 0;
  let squareB = 0;
  let p = start;
  for (; p + 4 <= end; p += 4) {
    const d0 = x[p] - k;
    const d1 = x[p + 1] - k;
    const d2 = x[p + 2] - k;
    const d3 = x[p + 3] - k;
    sumA += d0 + d2;
    squareA += d0 * d0 + d2 * d2;
    sumB += d1 + d3;
    squareB += d1 * d1 + d3 * d3;
  }
  for (; p < end; p++) {
    const d = x[p] - k;
    sumA += d;
    squareA += d * d;
  }
  sums[statistic] += sumA + sumB;
  squares[statistic] += squareA + squareB;
}

/** BatchNorm on (N, C): per-channel Σ(x − shift[c]) and Σ(x − shift[c])² over one row. */
function rowShiftedSums(
  x: TypedArray,
  row: number,
  shift: Float64Array,
  sums: Float64Array,
  squares: Float64Array,
): void {
  const channels = sums.length;
  const start = row * channels;
  for (let c = 0; c < channels; c++) {
    const d = x[start + c] - shift[c];
    sums[c] += d;
    squares[c] += d * d;
  }
}

/** BatchNorm on (N, C): per-channel Σ(x − shift[c]) and Σ(x − shift[c])², `COLUMN_ROWS` rows per sweep. */
function columnShiftedSums(
  x: TypedArray,
  rows: number,
  shift: Float64Array,
  sums: Float64Array,
  squares: Float64Array,
): void {
  const channels = sums.length;
  let r = 0;
  for (; r + COLUMN_ROWS <= rows; r += COLUMN_ROWS) {
    const start = r * channels;
    for (let c = 0; c < channels; c++) {
      const k = shift[c];
      const p = start + c;
      const d0 = x[p] - k;
      const d1 = x[p + channels] - k;
      const d2 = x[p + 2 * channels] - k;
      const d3 = x[p + 3 * channels] - k;
      sums[c] += d0 + d1 + (d2 + d3);
      squares[c] += d0 * d0 + d1 * d1 + (d2 * d2 + d3 * d3);
    }
  }
  for (; r < rows; r++) rowShiftedSums(x, r, shift, sums, squares);
}

/** Σ(x − k) and Σ(x − k)² per statistic, k its first value, on the JavaScript kernels. */
function shiftedSums(
  x: TypedArray,
  layout: NormLayout,
  { outer, blocks, run, statStride, statistics }: NormBlocks,
): { sum: Float64Array; squares: Float64Array; shift: Float64Array } {
  const sum = new Float64Array(statistics);
  const squares = new Float64Array(statistics);
  // The first value of each statistic: outer index 0 for BatchNorm, the run's start otherwise.
  const shift = new Float64Array(statistics);
  if (isColumnLayout(layout)) {
    shift.set(x.subarray(0, statistics));
    columnShiftedSums(x, outer, shift, sum, squares);
  } else {
    for (let o = 0, p = 0; o < outer; o++) {
      for (let b = 0; b < blocks; b++, p += run) {
        const k = o * statStride + b;
        if (o === 0 || statStride !== 0) shift[k] = x[p];
        addShiftedSums(x, p, p + run, shift[k], k, sum, squares);
      }
    }
  }
  return { sum, squares, shift };
}

/**
 * Mean and biased variance of every statistic, in float64, in one read of x: each statistic's
 * values are summed after a shift by its first value (see `addShiftedSums`); never
 * `E[x²] − E[x]²` on the raw values, so a large mean does not cancel the variance
 * (docs/normalization.md measures it). float32 runs on the wasm SIMD kernels where they exist.
 */
export function normStatistics(x: TypedArray, layout: NormLayout): NormStatistics<Float64Array> {
  const blocks = normBlocks(layout);
  const { statistics, count } = blocks;
  const { sum, squares, shift } = canUseWasmNorm(x, blocks)
    ? wasmShiftedSums(x, blocks)
    : shiftedSums(x, layout, blocks);
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

/**
 * One element per channel (LayerNorm, GroupNorm on (N, C)): the block of channels firstChannel…
 * at `start` with statistic k, and the same block `rowStep` further on with statistic
 * k + `statStep`, so γ and β are read once for two rows (both steps 0 do one row).
 */
function affineChannelPair(
  x: TypedArray,
  out: TypedArray,
  start: number,
  rowStep: number,
  firstChannel: number,
  channels: number,
  k: number,
  statStep: number,
  mean: TypedArray,
  invStd: Float64Array,
  gamma: TypedArray,
  beta: TypedArray,
): void {
  const m0 = mean[k];
  const s0 = invStd[k];
  const m1 = mean[k + statStep];
  const s1 = invStd[k + statStep];
  for (let j = 0; j < channels; j++) {
    const c = firstChannel + j;
    const p = start + j;
    const w = gamma[c];
    const b = beta[c];
    out[p] = (x[p] - m0) * (w * s0) + b;
    out[p + rowStep] = (x[p + rowStep] - m1) * (w * s1) + b;
  }
}

/** BatchNorm on (N, C), one row: `(x − mean[c])·scale[c] + beta[c]`. */
function affineRow(
  x: TypedArray,
  out: TypedArray,
  row: number,
  mean: TypedArray,
  scale: Float64Array,
  beta: TypedArray,
): void {
  const channels = scale.length;
  const start = row * channels;
  for (let c = 0; c < channels; c++) out[start + c] = (x[start + c] - mean[c]) * scale[c] + beta[c];
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
  let r = 0;
  for (; r + COLUMN_ROWS <= rows; r += COLUMN_ROWS) {
    const start = r * channels;
    for (let c = 0; c < channels; c++) {
      const m = mean[c];
      const k = scale[c];
      const b = beta[c];
      const p = start + c;
      out[p] = (x[p] - m) * k + b;
      out[p + channels] = (x[p + channels] - m) * k + b;
      out[p + 2 * channels] = (x[p + 2 * channels] - m) * k + b;
      out[p + 3 * channels] = (x[p + 3 * channels] - m) * k + b;
    }
  }
  for (; r < rows; r++) affineRow(x, out, r, mean, scale, beta);
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
  const geometry = normBlocks(layout);
  const { outer, channelsPerBlock, inner } = geometry;
  const invStd = inverseStd(variance, eps);
  if (canUseWasmNorm(x, geometry)) {
    const output = takeFloat32(x.length);
    wasmNormalize(x, output, geometry, weight, bias, mean, invStd);
    return output;
  }
  const gamma = orConstant(weight, layout.channels, 1);
  const beta = orConstant(bias, layout.channels, 0);
  const out = takeArray(dtypeOfArray(x), x.length, true);
  if (isColumnLayout(layout)) {
    const scale = invStd.map((s, c) => s * gamma[c]);
    affineColumns(x, out, outer, mean, scale, beta);
    return out;
  }
  if (inner === 1) {
    forEachBlockPair(layout, (start, firstChannel, k, rowStep, statStep) =>
      affineChannelPair(
        x,
        out,
        start,
        rowStep,
        firstChannel,
        channelsPerBlock,
        k,
        statStep,
        mean,
        invStd,
        gamma,
        beta,
      ),
    );
    return out;
  }
  forEachChannelRun(geometry, (p, k, c) =>
    affineRange(x, out, p, p + inner, mean[k], gamma[c] * invStd[k], beta[c]),
  );
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
  const blocks = normBlocks(layout);
  if (canFuseGroupPasses(x, blocks)) {
    const output = takeFloat32(x.length);
    return { output, statistics: wasmGroupForward(x, output, blocks, weight, bias, eps) };
  }
  const statistics = normStatistics(x, layout);
  return { output: normalizeAffine(x, layout, weight, bias, statistics, eps), statistics };
}

// ---- backward ------------------------------------------------------------------------------

/** The sums the backward needs: Σdy and Σdy·x̂ per channel, Σĝ and Σĝ·x̂ per statistic (ĝ = dy·γ[c]). */
export interface GradientSums {
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
  let dySumA = 0;
  let dyCentredA = 0;
  let dySumB = 0;
  let dyCentredB = 0;
  let p = start;
  for (; p + 2 <= end; p += 2) {
    const g0 = dy[p];
    const g1 = dy[p + 1];
    dySumA += g0;
    dyCentredA += g0 * (x[p] - m);
    dySumB += g1;
    dyCentredB += g1 * (x[p + 1] - m);
  }
  if (p < end) {
    const g = dy[p];
    dySumA += g;
    dyCentredA += g * (x[p] - m);
  }
  sums[0] = dySumA + dySumB;
  sums[1] = dyCentredA + dyCentredB;
}

/**
 * One element per channel (LayerNorm), one row: adds dy and dy·x̂ to the per-channel sums and
 * to gSum[k], gXhatSum[k] the row's Σĝ and Σĝ·x̂.
 */
function channelGradientSums(
  dy: TypedArray,
  x: TypedArray,
  start: number,
  firstChannel: number,
  channels: number,
  k: number,
  mean: TypedArray,
  invStd: Float64Array,
  gamma: TypedArray,
  { dySum, dyXhatSum, gSum, gXhatSum }: GradientSums,
): void {
  const m = mean[k];
  const s = invStd[k];
  let gTotal = 0;
  let gCentred = 0;
  for (let j = 0; j < channels; j++) {
    const c = firstChannel + j;
    const g = dy[start + j];
    const centred = g * (x[start + j] - m);
    dySum[c] += g;
    dyXhatSum[c] += centred * s;
    gTotal += gamma[c] * g;
    gCentred += gamma[c] * centred;
  }
  gSum[k] += gTotal;
  gXhatSum[k] += gCentred * s;
}

/**
 * `channelGradientSums` for two rows at once, the second `rowStep` after the first and with
 * statistic k + `statStep`: each per-channel sum is updated once for both.
 */
function channelGradientSumsPair(
  dy: TypedArray,
  x: TypedArray,
  start: number,
  rowStep: number,
  firstChannel: number,
  channels: number,
  k: number,
  statStep: number,
  mean: TypedArray,
  invStd: Float64Array,
  gamma: TypedArray,
  { dySum, dyXhatSum, gSum, gXhatSum }: GradientSums,
): void {
  const next = k + statStep;
  const m0 = mean[k];
  const s0 = invStd[k];
  const m1 = mean[next];
  const s1 = invStd[next];
  let gTotal0 = 0;
  let gCentred0 = 0;
  let gTotal1 = 0;
  let gCentred1 = 0;
  for (let j = 0; j < channels; j++) {
    const c = firstChannel + j;
    const p = start + j;
    const g0 = dy[p];
    const g1 = dy[p + rowStep];
    const centred0 = g0 * (x[p] - m0);
    const centred1 = g1 * (x[p + rowStep] - m1);
    const w = gamma[c];
    dySum[c] += g0 + g1;
    dyXhatSum[c] += centred0 * s0 + centred1 * s1;
    gTotal0 += w * g0;
    gCentred0 += w * centred0;
    gTotal1 += w * g1;
    gCentred1 += w * centred1;
  }
  gSum[k] += gTotal0;
  gXhatSum[k] += gCentred0 * s0;
  gSum[next] += gTotal1;
  gXhatSum[next] += gCentred1 * s1;
}

/** BatchNorm on (N, C), one row: adds dy and dy·(x − μ[c]) to the per-channel sums. */
function rowGradientSums(
  dy: TypedArray,
  x: TypedArray,
  row: number,
  mean: TypedArray,
  dySum: Float64Array,
  dyCentred: Float64Array,
): void {
  const channels = dySum.length;
  const start = row * channels;
  for (let c = 0; c < channels; c++) {
    const g = dy[start + c];
    dySum[c] += g;
    dyCentred[c] += g * (x[start + c] - mean[c]);
  }
}

/** BatchNorm on (N, C): per-channel Σdy and Σdy·(x − μ[c]), `COLUMN_ROWS` rows per sweep. */
function columnGradientSums(
  dy: TypedArray,
  x: TypedArray,
  rows: number,
  mean: TypedArray,
  dySum: Float64Array,
  dyCentred: Float64Array,
): void {
  const channels = dySum.length;
  let r = 0;
  for (; r + COLUMN_ROWS <= rows; r += COLUMN_ROWS) {
    const start = r * channels;
    for (let c = 0; c < channels; c++) {
      const m = mean[c];
      const p0 = start + c;
      const p1 = p0 + channels;
      const p2 = p1 + channels;
      const p3 = p2 + channels;
      const g0 = dy[p0];
      const g1 = dy[p1];
      const g2 = dy[p2];
      const g3 = dy[p3];
      dySum[c] += g0 + g1 + (g2 + g3);
      dyCentred[c] += g0 * (x[p0] - m) + g1 * (x[p1] - m) + (g2 * (x[p2] - m) + g3 * (x[p3] - m));
    }
  }
  for (; r < rows; r++) rowGradientSums(dy, x, r, mean, dySum, dyCentred);
}

function gradientSums(
  dy: TypedArray,
  x: TypedArray,
  layout: NormLayout,
  gamma: TypedArray,
  mean: TypedArray,
  invStd: Float64Array,
): GradientSums {
  const geometry = normBlocks(layout);
  if (canUseWasmNorm(x, geometry) && dy instanceof Float32Array)
    return wasmGradientSums(dy, x, geometry, gamma, mean, invStd);
  const { outer, channelsPerBlock, inner, statistics } = geometry;
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
  if (inner === 1) {
    forEachBlockPair(layout, (start, firstChannel, k, rowStep, statStep) => {
      if (rowStep === 0) {
        channelGradientSums(dy, x, start, firstChannel, channelsPerBlock, k, mean, invStd, gamma, sums);
      } else {
        channelGradientSumsPair(
          dy,
          x,
          start,
          rowStep,
          firstChannel,
          channelsPerBlock,
          k,
          statStep,
          mean,
          invStd,
          gamma,
          sums,
        );
      }
    });
    return sums;
  }
  const pair = new Float64Array(2);
  forEachChannelRun(geometry, (p, k, c) => {
    rangeGradientSums(dy, x, p, p + inner, mean[k], pair);
    const dyXhat = pair[1] * invStd[k];
    sums.dySum[c] += pair[0];
    sums.dyXhatSum[c] += dyXhat;
    sums.gSum[k] += gamma[c] * pair[0];
    sums.gXhatSum[k] += gamma[c] * dyXhat;
  });
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

/**
 * One element per channel (`k₁ = s·γ[c]` varies along the row), two rows at once as in
 * `affineChannelPair`.
 */
function channelInputGradientPair(
  dy: TypedArray,
  x: TypedArray,
  dx: TypedArray,
  start: number,
  rowStep: number,
  firstChannel: number,
  channels: number,
  k: number,
  statStep: number,
  mean: TypedArray,
  invStd: Float64Array,
  gamma: TypedArray,
  k2: Float64Array,
  k3: Float64Array,
): void {
  const next = k + statStep;
  const m0 = mean[k];
  const s0 = invStd[k];
  const a0 = k2[k];
  const b0 = k3[k];
  const m1 = mean[next];
  const s1 = invStd[next];
  const a1 = k2[next];
  const b1 = k3[next];
  for (let j = 0; j < channels; j++) {
    const p = start + j;
    const q = p + rowStep;
    const w = gamma[firstChannel + j];
    dx[p] = s0 * w * dy[p] + a0 * (x[p] - m0) + b0;
    dx[q] = s1 * w * dy[q] + a1 * (x[q] - m1) + b1;
  }
}

/** BatchNorm on (N, C), one row, with the coefficients of `columnInputGradient`. */
function rowInputGradient(
  dy: TypedArray,
  x: TypedArray,
  dx: TypedArray,
  row: number,
  coefficients: Float64Array,
): void {
  const channels = coefficients.length / 4;
  const start = row * channels;
  for (let c = 0; c < channels; c++) {
    const q = 4 * c;
    const p = start + c;
    dx[p] =
      coefficients[q + 1] * dy[p] + coefficients[q + 2] * (x[p] - coefficients[q]) + coefficients[q + 3];
  }
}

/**
 * BatchNorm on (N, C), `COLUMN_ROWS` rows per sweep. `coefficients` holds [μ, k₁, k₂, k₃] for
 * each channel in turn: reading one array instead of four made this sweep about 20% faster.
 */
function columnInputGradient(
  dy: TypedArray,
  x: TypedArray,
  dx: TypedArray,
  rows: number,
  coefficients: Float64Array,
): void {
  const channels = coefficients.length / 4;
  let r = 0;
  for (; r + COLUMN_ROWS <= rows; r += COLUMN_ROWS) {
    const start = r * channels;
    for (let c = 0; c < channels; c++) {
      const q = 4 * c;
      const m = coefficients[q];
      const k1 = coefficients[q + 1];
      const k2 = coefficients[q + 2];
      const k3 = coefficients[q + 3];
      const p0 = start + c;
      const p1 = p0 + channels;
      const p2 = p1 + channels;
      const p3 = p2 + channels;
      dx[p0] = k1 * dy[p0] + k2 * (x[p0] - m) + k3;
      dx[p1] = k1 * dy[p1] + k2 * (x[p1] - m) + k3;
      dx[p2] = k1 * dy[p2] + k2 * (x[p2] - m) + k3;
      dx[p3] = k1 * dy[p3] + k2 * (x[p3] - m) + k3;
    }
  }
  for (; r < rows; r++) rowInputGradient(dy, x, dx, r, coefficients);
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
  const geometry = normBlocks(layout);
  if (canUseWasmNorm(x, geometry) && dy instanceof Float32Array) {
    const dx = takeFloat32(x.length);
    wasmInputGradient(dy, x, dx, geometry, gamma, mean, invStd, k2, k3);
    return dx;
  }
  const { outer, channelsPerBlock, inner } = geometry;
  const dx = takeArray(dtypeOfArray(x), x.length, true);
  if (isColumnLayout(layout)) {
    const coefficients = new Float64Array(4 * layout.channels);
    for (let c = 0, q = 0; c < layout.channels; c++, q += 4) {
      coefficients[q] = mean[c];
      coefficients[q + 1] = invStd[c] * gamma[c];
      coefficients[q + 2] = k2[c];
      coefficients[q + 3] = k3[c];
    }
    columnInputGradient(dy, x, dx, outer, coefficients);
    return dx;
  }
  if (inner === 1) {
    forEachBlockPair(layout, (start, firstChannel, k, rowStep, statStep) =>
      channelInputGradientPair(
        dy,
        x,
        dx,
        start,
        rowStep,
        firstChannel,
        channelsPerBlock,
        k,
        statStep,
        mean,
        invStd,
        gamma,
        k2,
        k3,
      ),
    );
    return dx;
  }
  forEachChannelRun(geometry, (p, k, c) =>
    rangeInputGradient(dy, x, dx, p, p + inner, mean[k], invStd[k] * gamma[c], k2[k], k3[k]),
  );
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
  const blocks = normBlocks(layout);
  const { statistics, count } = blocks;
  const gamma = orConstant(weight, layout.channels, 1);
  const invStd = inverseStd(variance, eps);
  const perChannel = (values: Float64Array): TypedArray => {
    const out = allocateTypedArray(weight === null ? dtypeOfArray(x) : dtypeOfArray(weight), values.length);
    out.set(values);
    return out;
  };
  if (statisticsFromInput && needs.input && canFuseGroupPasses(x, blocks) && dy instanceof Float32Array) {
    const dx = takeFloat32(x.length);
    const { dySum, dyXhatSum } = wasmGroupBackward(dy, x, dx, blocks, gamma, mean, invStd);
    return {
      dx,
      dweight: needs.weight ? perChannel(dyXhatSum) : null,
      dbias: needs.bias ? perChannel(dySum) : null,
    };
  }
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
  return {
    dx: needs.input ? inputGradient(dy, x, layout, gamma, mean, invStd, k2, k3) : null,
    dweight: needs.weight && sums !== null ? perChannel(sums.dyXhatSum) : null,
    dbias: needs.bias && sums !== null ? perChannel(sums.dySum) : null,
  };
}

/**
 * The running-statistics update of `Backend.updateRunningStatistics` on typed arrays: float64
 * arithmetic, each next value rounded through the running arrays' own type, written only when
 * every batch value and every rounded next value is finite.
 */
export function updateRunningStatistics(
  running: NormStatistics<TypedArray>,
  batch: NormStatistics<TypedArray>,
  momentum: number,
  varianceScale: number,
): { next: NormStatistics<Float64Array>; written: boolean } {
  const channels = running.mean.length;
  // Rounded as the running arrays store them (a float32 variance above 3.4e38 becomes ∞).
  const roundingOf = (array: TypedArray) =>
    array instanceof Float32Array ? Math.fround : (value: number) => value;
  const [roundMean, roundVariance] = [roundingOf(running.mean), roundingOf(running.variance)];
  const next = { mean: new Float64Array(channels), variance: new Float64Array(channels) };
  let finite = true;
  for (let c = 0; c < channels; c++) {
    const batchMean = batch.mean[c];
    const batchVariance = batch.variance[c] * varianceScale;
    next.mean[c] = roundMean((1 - momentum) * running.mean[c] + momentum * batchMean);
    next.variance[c] = roundVariance((1 - momentum) * running.variance[c] + momentum * batchVariance);
    finite &&= Number.isFinite(batchMean) && Number.isFinite(batchVariance);
    finite &&= Number.isFinite(next.mean[c]) && Number.isFinite(next.variance[c]);
  }
  if (finite) {
    running.mean.set(next.mean);
    running.variance.set(next.variance);
  }
  return { next, written: finite };
}
