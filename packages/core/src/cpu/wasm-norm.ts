// The float32 normalization passes on the wasm SIMD kernels: windows of each stream in wasm memory, the walk over a layout.
import type { TypedArray } from "../dtype.ts";
import { forEachChannelRun, type NormBlocks } from "../norm-layout.ts";
import type { GradientSums } from "./norm.ts";
import { ensureMemory } from "./wasm-module.ts";
import { COLUMN_BLOCK, type NormKernels, normKernels } from "./wasm-norm-kernels.ts";

// The kernels read and write wasm memory only, so each pass copies a window of its inputs in
// and of its output back: 64 KB per stream, so x, dy and the output stay in L2 together and the
// copies (memcpy at tens of GB/s from cache) cost a few percent of the pass.

/** Elements of each stream (x, dy, the output) in wasm memory at a time. */
const WINDOW = 16384;
/**
 * Rows of BatchNorm on (N, C) per column-kernel call at most: the backward sums add a column's
 * products over these rows in float32 before the float64 sum, so a few rounding steps per term.
 */
const COLUMN_ROWS = 32;
const F32 = 4;
const F64 = 8;

/**
 * Byte addresses in wasm memory: two float64 results, the three stream windows, then
 * per-channel arrays. The windows are a cache line apart modulo 4 KB, so the same element of
 * x, dy and the output does not compete for one L1 set.
 */
const RESULTS = 0;
const X_WINDOW = 64;
const DY_WINDOW = X_WINDOW + WINDOW * F32 + 64;
const OUT_WINDOW = DY_WINDOW + WINDOW * F32 + 64;
/** Where column windows are staged contiguous, so each moves with one copy between JavaScript and wasm. */
const STAGE = OUT_WINDOW + WINDOW * F32 + 64;
const CHANNEL_ARRAYS = STAGE + WINDOW * F32 + 64;

let enabled = true;

/**
 * Switches the WebAssembly SIMD normalization kernels on or off (default on): off runs float32
 * on the JavaScript kernels, as on engines without wasm SIMD (for tests and comparisons).
 */
export function configureWasmNorm(options: { enabled: boolean }): void {
  enabled = options.enabled;
}

/** True for BatchNorm on (N, C): every element has its own channel and the statistics run down the columns. */
function isColumnLayout(blocks: NormBlocks): boolean {
  return blocks.kind === "per-channel" && blocks.inner === 1;
}

/** The channels rounded up to a block of the column kernels. */
const paddedChannels = (channels: number): number => Math.ceil(channels / COLUMN_BLOCK) * COLUMN_BLOCK;

/**
 * Floats from one row of a column window to the next: the channels rounded up to a block, plus
 * one block more where that is a multiple of 64 floats, since rows 256 bytes × 2ᵏ apart would
 * fall into the same few L1 sets as a kernel walks down a column (1024 channels: 3× slower).
 */
function columnStride(channels: number): number {
  const padded = paddedChannels(channels);
  return padded % 64 === 0 ? padded + COLUMN_BLOCK : padded;
}

/**
 * True when float32 `x` in this layout runs on the wasm kernels: wasm SIMD is there and enabled,
 * and, for BatchNorm on (N, C), a padded row fits in a window (up to 16376 channels).
 */
export function canUseWasmNorm(x: TypedArray, blocks: NormBlocks): x is Float32Array {
  return (
    normKernels !== undefined &&
    enabled &&
    x instanceof Float32Array &&
    (!isColumnLayout(blocks) || columnStride(blocks.channels) <= WINDOW)
  );
}

/** The kernels and views of their memory for one pass. */
interface Session {
  readonly kernels: NormKernels;
  readonly floats: Float32Array;
  readonly doubles: Float64Array;
}

/** The kernels and fresh views of their memory, grown to hold `channelBytes` of per-channel arrays. */
function session(channelBytes: number): Session {
  if (normKernels === undefined) throw new Error("wasm SIMD is unavailable: check canUseWasmNorm first");
  ensureMemory(normKernels.memory, CHANNEL_ARRAYS + channelBytes);
  const { buffer } = normKernels.memory;
  return { kernels: normKernels, floats: new Float32Array(buffer), doubles: new Float64Array(buffer) };
}

/**
 * Per-channel arrays laid out one after another from `CHANNEL_ARRAYS`, each 16-byte aligned:
 * `f32(n)` and `f64(n)` reserve n elements and return their byte address.
 */
class ChannelArrays {
  bytes = 0;
  f32(count: number): number {
    return this.#reserve(count * F32);
  }
  f64(count: number): number {
    return this.#reserve(count * F64);
  }
  #reserve(bytes: number): number {
    const address = CHANNEL_ARRAYS + this.bytes;
    this.bytes += Math.ceil(bytes / 16) * 16;
    return address;
  }
}

/** μ as two floats, μ_hi + μ_lo: the kernels subtract μ_hi, the caller folds μ_lo into a coefficient. */
function splitMean(mean: number): [high: number, low: number] {
  const high = Math.fround(mean);
  return [high, mean - high];
}

/** `splitMean` of each channel's mean, as two arrays (μ_hi, μ_lo). */
function splitMeans(mean: TypedArray, channels: number): [high: Float64Array, low: Float64Array] {
  const [high, low] = [new Float64Array(channels), new Float64Array(channels)];
  for (let c = 0; c < channels; c++) [high[c], low[c]] = splitMean(mean[c]);
  return [high, low];
}

/**
 * Visits the segments of a non-column layout in memory order: its channel runs (inner > 1), or
 * (inner = 1) each statistic's row of channels, whose channel is its first. Segments longer than
 * a window come in pieces (a row's channel advancing with it).
 */
function forEachSegment(
  blocks: NormBlocks,
  visit: (start: number, count: number, statistic: number, channel: number) => void,
): void {
  const inPieces = (
    start: number,
    length: number,
    statistic: number,
    channel: number,
    perElement: boolean,
  ) => {
    for (let offset = 0; offset < length; offset += WINDOW) {
      visit(
        start + offset,
        Math.min(WINDOW, length - offset),
        statistic,
        channel + (perElement ? offset : 0),
      );
    }
  };
  const { inner, run, statistics, statStride, channelsPerBlock } = blocks;
  if (inner > 1) {
    forEachChannelRun(blocks, (start, statistic, channel) =>
      inPieces(start, inner, statistic, channel, false),
    );
    return;
  }
  // inner = 1 and not a column layout: per-group, so statistic k's row starts at k·run.
  for (let k = 0; k < statistics; k++) inPieces(k * run, run, k, (k % statStride) * channelsPerBlock, true);
}

/** A stream copied between a typed array and its window in wasm memory (a byte address). */
type Stream = readonly [array: Float32Array, window: number];

/**
 * The windows of one pass over a non-column layout: `sources` copied in and `output` copied
 * back WINDOW elements at a time, moving forward only (segments come in memory order).
 */
class Windows {
  #start = 0;
  #end = 0;
  constructor(
    readonly floats: Float32Array,
    readonly length: number,
    readonly sources: readonly Stream[],
    readonly output: Float32Array | null,
  ) {}
  /** The byte offset within every window of elements [start, start + count), after moving the windows there if needed. */
  cover(start: number, count: number): number {
    if (start < this.#start || start + count > this.#end) {
      this.#flush(start);
      this.#start = start;
      this.#end = Math.min(this.length, start + WINDOW);
      for (const [array, window] of this.sources)
        this.floats.set(array.subarray(start, this.#end), window / F32);
    }
    return (start - this.#start) * F32;
  }
  /** Copies the rest of the output window back. */
  finish(): void {
    this.#flush(this.#end);
  }
  #flush(upTo: number): void {
    const written = Math.min(upTo, this.#end) - this.#start;
    if (this.output === null || written <= 0) return;
    const first = OUT_WINDOW / F32;
    this.output.set(this.floats.subarray(first, first + written), this.#start);
  }
}

/**
 * Walks BatchNorm on (N, C) up to `COLUMN_ROWS` rows at a time: copies each source's rows into
 * its window `columnStride` floats apart (the padding is zero), calls `pass(rows)` with the row
 * stride in bytes and the padded channel count, and copies the output window's rows back. Rows
 * move in one copy each way through the contiguous stage, spread or gathered inside wasm
 * (one copy per row from JavaScript cost more than the kernels for 1024 channels).
 */
function forEachRowWindow(
  session: Session,
  blocks: NormBlocks,
  sources: readonly Stream[],
  output: Float32Array | null,
  pass: (rows: number, strideBytes: number, width: number) => void,
): void {
  const { floats, kernels } = session;
  const { channels, outer } = blocks;
  const stride = columnStride(channels);
  const padded = paddedChannels(channels);
  const rowsPerWindow = Math.min(COLUMN_ROWS, Math.floor(WINDOW / stride));
  const rowBytes = channels * F32;
  for (const [, window] of sources) floats.fill(0, window / F32, window / F32 + rowsPerWindow * stride);
  for (let first = 0; first < outer; first += rowsPerWindow) {
    const rows = Math.min(rowsPerWindow, outer - first);
    for (const [array, window] of sources) {
      floats.set(array.subarray(first * channels, (first + rows) * channels), STAGE / F32);
      kernels.copyRows(STAGE, window, rows, rowBytes, stride * F32, rowBytes);
    }
    pass(rows, stride * F32, padded);
    if (output === null) continue;
    kernels.copyRows(OUT_WINDOW, STAGE, rows, stride * F32, rowBytes, rowBytes);
    output.set(floats.subarray(STAGE / F32, STAGE / F32 + rows * channels), first * channels);
  }
}

/**
 * Copies `values` (a missing γ or β: `fill`) into the float32 array at `address`, then zeros up
 * to `length`.
 */
function copyChannels(
  floats: Float32Array,
  address: number,
  values: TypedArray | null,
  fill: number,
  channels: number,
  length: number,
): void {
  const first = address / F32;
  if (values === null) floats.fill(fill, first, first + channels);
  else floats.set(values.subarray(0, channels), first);
  floats.fill(0, first + channels, first + length);
}

/** Writes `values(c)` for every channel, then zeros up to `length`, into the float32 array at `address`. */
function writeChannels(
  floats: Float32Array,
  address: number,
  channels: number,
  length: number,
  values: (c: number) => number,
): void {
  const first = address / F32;
  for (let c = 0; c < channels; c++) floats[first + c] = values(c);
  floats.fill(0, first + channels, first + length);
}

/**
 * Adds each float32 array of per-channel partial sums (at its byte address) into its float64
 * total, and zeroes it for the next rows.
 */
function drainPartialSums(floats: Float32Array, pairs: readonly (readonly [number, Float64Array])[]): void {
  for (const [address, total] of pairs) {
    const first = address / F32;
    for (let c = 0; c < total.length; c++) total[c] += floats[first + c];
    floats.fill(0, first, first + total.length);
  }
}

/** Σ(x − k) and Σ(x − k)² per statistic, with k its first value (see `addShiftedSums` in norm.ts). */
export function wasmShiftedSums(
  x: Float32Array,
  blocks: NormBlocks,
): { sum: Float64Array; squares: Float64Array; shift: Float64Array } {
  const { statistics, channels } = blocks;
  const sum = new Float64Array(statistics);
  const squares = new Float64Array(statistics);
  const shift = new Float64Array(statistics);
  if (isColumnLayout(blocks)) {
    const padded = paddedChannels(channels);
    const arrays = new ChannelArrays();
    const [shiftAt, sumAt, squaresAt] = [arrays.f64(padded), arrays.f64(padded), arrays.f64(padded)];
    const memory = session(arrays.bytes);
    const { kernels, doubles } = memory;
    shift.set(x.subarray(0, channels));
    doubles.fill(0, shiftAt / F64, (CHANNEL_ARRAYS + arrays.bytes) / F64);
    doubles.set(shift, shiftAt / F64);
    forEachRowWindow(memory, blocks, [[x, X_WINDOW]], null, (rows, stride, width) =>
      kernels.columnShiftedSums(X_WINDOW, rows, stride, width, shiftAt, sumAt, squaresAt),
    );
    sum.set(doubles.subarray(sumAt / F64, sumAt / F64 + channels));
    squares.set(doubles.subarray(squaresAt / F64, squaresAt / F64 + channels));
    return { sum, squares, shift };
  }
  const { kernels, floats, doubles } = session(0);
  const seen = new Uint8Array(statistics);
  const windows = new Windows(floats, x.length, [[x, X_WINDOW]], null);
  forEachSegment(blocks, (start, count, k) => {
    if (seen[k] === 0) {
      seen[k] = 1;
      shift[k] = x[start];
    }
    kernels.shiftedSums(X_WINDOW + windows.cover(start, count), count, shift[k], RESULTS);
    sum[k] += doubles[0];
    squares[k] += doubles[1];
  });
  return { sum, squares, shift };
}

/** y = (x − μ)·γ[c]·s + β[c] into `out` (see `normalizeAffine` in norm.ts); s = 1/√(σ² + eps) per statistic. */
export function wasmNormalize(
  x: Float32Array,
  out: Float32Array,
  blocks: NormBlocks,
  weight: TypedArray | null,
  bias: TypedArray | null,
  mean: TypedArray,
  invStd: Float64Array,
): void {
  const { channels } = blocks;
  const gamma = (c: number): number => (weight === null ? 1 : weight[c]);
  const beta = (c: number): number => (bias === null ? 0 : bias[c]);
  const arrays = new ChannelArrays();
  if (isColumnLayout(blocks)) {
    const padded = paddedChannels(channels);
    const [meanAt, scaleAt, shiftAt] = [arrays.f32(padded), arrays.f32(padded), arrays.f32(padded)];
    const memory = session(arrays.bytes);
    const { kernels, floats } = memory;
    const [high, low] = splitMeans(mean, channels);
    copyChannels(floats, meanAt, high, 0, channels, padded);
    writeChannels(floats, scaleAt, channels, padded, (c) => invStd[c] * gamma(c));
    writeChannels(floats, shiftAt, channels, padded, (c) => beta(c) - low[c] * invStd[c] * gamma(c));
    forEachRowWindow(memory, blocks, [[x, X_WINDOW]], out, (rows, stride, width) =>
      kernels.columnAffine(X_WINDOW, OUT_WINDOW, rows, stride, width, meanAt, scaleAt, shiftAt),
    );
    return;
  }
  const perElement = blocks.inner === 1;
  const [gammaAt, betaAt] = perElement ? [arrays.f32(channels), arrays.f32(channels)] : [0, 0];
  const { kernels, floats } = session(arrays.bytes);
  if (perElement) {
    copyChannels(floats, gammaAt, weight, 1, channels, channels);
    copyChannels(floats, betaAt, bias, 0, channels, channels);
  }
  const windows = new Windows(floats, x.length, [[x, X_WINDOW]], out);
  forEachSegment(blocks, (start, count, k, c) => {
    const at = windows.cover(start, count);
    const [high, low] = splitMean(mean[k]);
    const s = invStd[k];
    if (perElement) {
      kernels.affineChannels(
        X_WINDOW + at,
        OUT_WINDOW + at,
        gammaAt + c * F32,
        betaAt + c * F32,
        count,
        high,
        low,
        s,
      );
    } else {
      const scale = s * gamma(c);
      kernels.affine(X_WINDOW + at, OUT_WINDOW + at, count, high, scale, beta(c) - low * scale);
    }
  });
  windows.finish();
}

/** The backward's sums, as `gradientSums` in norm.ts computes them; `gamma` has every channel. */
export function wasmGradientSums(
  dy: Float32Array,
  x: Float32Array,
  blocks: NormBlocks,
  gamma: TypedArray,
  mean: TypedArray,
  invStd: Float64Array,
): GradientSums {
  const { channels, statistics } = blocks;
  const sums = {
    dySum: new Float64Array(channels),
    dyXhatSum: new Float64Array(channels),
    gSum: new Float64Array(statistics),
    gXhatSum: new Float64Array(statistics),
  };
  const arrays = new ChannelArrays();
  const sources: Stream[] = [
    [x, X_WINDOW],
    [dy, DY_WINDOW],
  ];
  if (isColumnLayout(blocks)) {
    const padded = paddedChannels(channels);
    const meanAt = arrays.f32(padded);
    const [dySumAt, dyCentredAt] = [arrays.f64(padded), arrays.f64(padded)];
    const memory = session(arrays.bytes);
    const { kernels, floats, doubles } = memory;
    const [high, low] = splitMeans(mean, channels);
    copyChannels(floats, meanAt, high, 0, channels, padded);
    doubles.fill(0, dySumAt / F64, dySumAt / F64 + 2 * padded);
    forEachRowWindow(memory, blocks, sources, null, (rows, stride, width) =>
      kernels.columnGradientSums(X_WINDOW, DY_WINDOW, rows, stride, width, meanAt, dySumAt, dyCentredAt),
    );
    for (let c = 0; c < channels; c++) {
      const total = doubles[dySumAt / F64 + c];
      // Σdy·(x − μ) = Σdy·(x − μ_hi) − μ_lo·Σdy
      const dyXhat = (doubles[dyCentredAt / F64 + c] - low[c] * total) * invStd[c];
      sums.dySum[c] = total;
      sums.dyXhatSum[c] = dyXhat;
      sums.gSum[c] = gamma[c] * total;
      sums.gXhatSum[c] = gamma[c] * dyXhat;
    }
    return sums;
  }
  const perElement = blocks.inner === 1;
  const [gammaAt, dySumAt, dyXhatSumAt] = perElement
    ? [arrays.f32(channels), arrays.f32(channels), arrays.f32(channels)]
    : [0, 0, 0];
  const { kernels, floats, doubles } = session(arrays.bytes);
  const drain = (): void =>
    drainPartialSums(floats, [
      [dySumAt, sums.dySum],
      [dyXhatSumAt, sums.dyXhatSum],
    ]);
  if (perElement) {
    copyChannels(floats, gammaAt, gamma, 1, channels, channels);
    floats.fill(0, dySumAt / F32, dySumAt / F32 + channels);
    floats.fill(0, dyXhatSumAt / F32, dyXhatSumAt / F32 + channels);
  }
  const windows = new Windows(floats, x.length, sources, null);
  let rows = 0;
  forEachSegment(blocks, (start, count, k, c) => {
    const at = windows.cover(start, count);
    const [high, low] = splitMean(mean[k]);
    const s = invStd[k];
    if (perElement) {
      const [dySumOf, dyXhatSumOf, gammaOf] = [dySumAt + c * F32, dyXhatSumAt + c * F32, gammaAt + c * F32];
      kernels.channelGradientSums(
        DY_WINDOW + at,
        X_WINDOW + at,
        gammaOf,
        dySumOf,
        dyXhatSumOf,
        count,
        high,
        low,
        s,
        RESULTS,
      );
      sums.gSum[k] += doubles[0];
      sums.gXhatSum[k] += doubles[1] * s;
      // The per-channel sums stay float32 over at most COLUMN_ROWS rows, as in the column kernels.
      if (c + count === channels && ++rows % COLUMN_ROWS === 0) drain();
      return;
    }
    kernels.gradientSums(DY_WINDOW + at, X_WINDOW + at, count, high, RESULTS);
    const total = doubles[0];
    const dyXhat = (doubles[1] - low * total) * s;
    sums.dySum[c] += total;
    sums.dyXhatSum[c] += dyXhat;
    sums.gSum[k] += gamma[c] * total;
    sums.gXhatSum[k] += gamma[c] * dyXhat;
  });
  if (perElement) drain();
  return sums;
}

/** dx = k₁·dy + k₂·(x − μ) + k₃ into `dx`, with k₁ = s·γ[c] and k₂, k₃ per statistic (see `inputGradient` in norm.ts). */
export function wasmInputGradient(
  dy: Float32Array,
  x: Float32Array,
  dx: Float32Array,
  blocks: NormBlocks,
  gamma: TypedArray,
  mean: TypedArray,
  invStd: Float64Array,
  k2: Float64Array,
  k3: Float64Array,
): void {
  const { channels } = blocks;
  const arrays = new ChannelArrays();
  const sources: Stream[] = [
    [x, X_WINDOW],
    [dy, DY_WINDOW],
  ];
  if (isColumnLayout(blocks)) {
    const padded = paddedChannels(channels);
    const [meanAt, k1At, k2At, k3At] = [
      arrays.f32(padded),
      arrays.f32(padded),
      arrays.f32(padded),
      arrays.f32(padded),
    ];
    const memory = session(arrays.bytes);
    const { kernels, floats } = memory;
    const [high, low] = splitMeans(mean, channels);
    copyChannels(floats, meanAt, high, 0, channels, padded);
    writeChannels(floats, k1At, channels, padded, (c) => invStd[c] * gamma[c]);
    copyChannels(floats, k2At, k2, 0, channels, padded);
    // k₂·(x − μ) + k₃ = k₂·(x − μ_hi) + (k₃ − k₂·μ_lo)
    writeChannels(floats, k3At, channels, padded, (c) => k3[c] - k2[c] * low[c]);
    forEachRowWindow(memory, blocks, sources, dx, (rows, stride, width) =>
      kernels.columnInputGradient(
        X_WINDOW,
        DY_WINDOW,
        OUT_WINDOW,
        rows,
        stride,
        width,
        meanAt,
        k1At,
        k2At,
        k3At,
      ),
    );
    return;
  }
  const perElement = blocks.inner === 1;
  const gammaAt = perElement ? arrays.f32(channels) : 0;
  const { kernels, floats } = session(arrays.bytes);
  if (perElement) copyChannels(floats, gammaAt, gamma, 1, channels, channels);
  const windows = new Windows(floats, x.length, sources, dx);
  forEachSegment(blocks, (start, count, k, c) => {
    const at = windows.cover(start, count);
    const [high, low] = splitMean(mean[k]);
    const s = invStd[k];
    const [dyAt, xAt, dxAt] = [DY_WINDOW + at, X_WINDOW + at, OUT_WINDOW + at];
    if (perElement) {
      kernels.inputGradientChannels(dyAt, xAt, dxAt, gammaAt + c * F32, count, high, low, s, k2[k], k3[k]);
    } else {
      kernels.inputGradient(dyAt, xAt, dxAt, count, high, s * gamma[c], k2[k], k3[k] - k2[k] * low);
    }
  });
  windows.finish();
}

// ---- per-group layouts in one sweep -----------------------------------------------------------

/**
 * True where a per-group layout (LayerNorm, GroupNorm, InstanceNorm) runs forward and backward in
 * one sweep each: each statistic's elements (contiguous) fit in a window, so its statistics and
 * then its output (or its sums and then dx) come from one copy of it held in cache, where the
 * separate passes read x from memory twice.
 */
export function canFuseGroupPasses(x: TypedArray, blocks: NormBlocks): x is Float32Array {
  return canUseWasmNorm(x, blocks) && blocks.kind === "per-group" && blocks.run <= WINDOW;
}

/**
 * The forward of a per-group layout in one sweep (see `canFuseGroupPasses`): per statistic, its
 * shifted sums, mean and biased variance (float64, as `normStatistics`), then
 * y = (x − μ)·γ[c]·s + β[c] into `out`.
 */
export function wasmGroupForward(
  x: Float32Array,
  out: Float32Array,
  blocks: NormBlocks,
  weight: TypedArray | null,
  bias: TypedArray | null,
  eps: number,
): { mean: Float64Array; variance: Float64Array } {
  const { channels, channelsPerBlock, inner, run, statistics, statStride, count } = blocks;
  const gamma = (c: number): number => (weight === null ? 1 : weight[c]);
  const beta = (c: number): number => (bias === null ? 0 : bias[c]);
  const perElement = inner === 1;
  const arrays = new ChannelArrays();
  const [gammaAt, betaAt] = perElement ? [arrays.f32(channels), arrays.f32(channels)] : [0, 0];
  const { kernels, floats, doubles } = session(arrays.bytes);
  if (perElement) {
    copyChannels(floats, gammaAt, weight, 1, channels, channels);
    copyChannels(floats, betaAt, bias, 0, channels, channels);
  }
  const mean = new Float64Array(statistics);
  const variance = new Float64Array(statistics);
  const windows = new Windows(floats, x.length, [[x, X_WINDOW]], out);
  for (let k = 0; k < statistics; k++) {
    const start = k * run;
    const at = windows.cover(start, run);
    const shift = x[start];
    kernels.shiftedSums(X_WINDOW + at, run, shift, RESULTS);
    const shiftedMean = doubles[0] / count;
    mean[k] = shift + shiftedMean;
    variance[k] = Math.max(0, doubles[1] / count - shiftedMean * shiftedMean);
    const s = 1 / Math.sqrt(variance[k] + eps);
    const [high, low] = splitMean(mean[k]);
    const firstChannel = (k % statStride) * channelsPerBlock;
    if (perElement) {
      const [g, b] = [gammaAt + firstChannel * F32, betaAt + firstChannel * F32];
      kernels.affineChannels(X_WINDOW + at, OUT_WINDOW + at, g, b, run, high, low, s);
      continue;
    }
    for (let j = 0, offset = at; j < channelsPerBlock; j++, offset += inner * F32) {
      const c = firstChannel + j;
      const scale = s * gamma(c);
      kernels.affine(X_WINDOW + offset, OUT_WINDOW + offset, inner, high, scale, beta(c) - low * scale);
    }
  }
  windows.finish();
  return { mean, variance };
}

/**
 * The training backward of a per-group layout in one sweep (see `canFuseGroupPasses`): per
 * statistic, its sums, then dx = k₁·dy + k₂·(x − μ) + k₃ into `dx` (as `normBackward`); returns
 * the per-channel Σdy and Σdy·x̂ (dβ, dγ).
 */
export function wasmGroupBackward(
  dy: Float32Array,
  x: Float32Array,
  dx: Float32Array,
  blocks: NormBlocks,
  gamma: TypedArray,
  mean: TypedArray,
  invStd: Float64Array,
): { dySum: Float64Array; dyXhatSum: Float64Array } {
  const { channels, channelsPerBlock, inner, run, statistics, statStride, count } = blocks;
  const dySum = new Float64Array(channels);
  const dyXhatSum = new Float64Array(channels);
  const perElement = inner === 1;
  const arrays = new ChannelArrays();
  const [gammaAt, partialDy, partialDyXhat] = perElement
    ? [arrays.f32(channels), arrays.f32(channels), arrays.f32(channels)]
    : [0, 0, 0];
  const { kernels, floats, doubles } = session(arrays.bytes);
  const drain = (): void =>
    drainPartialSums(floats, [
      [partialDy, dySum],
      [partialDyXhat, dyXhatSum],
    ]);
  if (perElement) {
    copyChannels(floats, gammaAt, gamma, 1, channels, channels);
    floats.fill(0, partialDy / F32, partialDy / F32 + channels);
    floats.fill(0, partialDyXhat / F32, partialDyXhat / F32 + channels);
  }
  const windows = new Windows(
    floats,
    x.length,
    [
      [x, X_WINDOW],
      [dy, DY_WINDOW],
    ],
    dx,
  );
  for (let k = 0; k < statistics; k++) {
    const start = k * run;
    const at = windows.cover(start, run);
    const s = invStd[k];
    const [high, low] = splitMean(mean[k]);
    const firstChannel = (k % statStride) * channelsPerBlock;
    let gSum = 0;
    let gXhatSum = 0;
    if (perElement) {
      const [g, dyOf, dyXhatOf] = [gammaAt, partialDy, partialDyXhat].map(
        (address) => address + firstChannel * F32,
      );
      kernels.channelGradientSums(
        DY_WINDOW + at,
        X_WINDOW + at,
        g,
        dyOf,
        dyXhatOf,
        run,
        high,
        low,
        s,
        RESULTS,
      );
      gSum = doubles[0];
      gXhatSum = doubles[1] * s;
    } else {
      for (let j = 0, offset = at; j < channelsPerBlock; j++, offset += inner * F32) {
        const c = firstChannel + j;
        kernels.gradientSums(DY_WINDOW + offset, X_WINDOW + offset, inner, high, RESULTS);
        const total = doubles[0];
        const dyXhat = (doubles[1] - low * total) * s;
        dySum[c] += total;
        dyXhatSum[c] += dyXhat;
        gSum += gamma[c] * total;
        gXhatSum += gamma[c] * dyXhat;
      }
    }
    const k2 = (-s * s * gXhatSum) / count;
    const k3 = (-s * gSum) / count;
    if (perElement) {
      const g = gammaAt + firstChannel * F32;
      kernels.inputGradientChannels(
        DY_WINDOW + at,
        X_WINDOW + at,
        OUT_WINDOW + at,
        g,
        run,
        high,
        low,
        s,
        k2,
        k3,
      );
      if ((k + 1) % COLUMN_ROWS === 0) drain();
      continue;
    }
    for (let j = 0, offset = at; j < channelsPerBlock; j++, offset += inner * F32) {
      const k1 = s * gamma[firstChannel + j];
      kernels.inputGradient(
        DY_WINDOW + offset,
        X_WINDOW + offset,
        OUT_WINDOW + offset,
        inner,
        high,
        k1,
        k2,
        k3 - k2 * low,
      );
    }
  }
  windows.finish();
  if (perElement) drain();
  return { dySum, dyXhatSum };
}
