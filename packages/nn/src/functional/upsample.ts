// Functional resizing (PyTorch's F.interpolate): nearest and bilinear, as index gathers and weighted sums.
import { formatShape, formatValue, fromValues, type Tensor } from "@normgrad/core";
import { assertFloat } from "./validate.ts";

/** `"nearest"` (3-D or 4-D input) or `"bilinear"` (4-D input). */
export type InterpolateMode = "nearest" | "bilinear";

/** Options of `interpolate`: exactly one of `size` and `scaleFactor`. */
export interface InterpolateOptions {
  /** The output spatial size: one int for every spatial dim, or one per dim. */
  size?: number | readonly number[];
  /** Output size = ⌊input size · scaleFactor⌋ per spatial dim (one number, or one per dim). */
  scaleFactor?: number | readonly number[];
  /** Default `"nearest"`. */
  mode?: InterpolateMode;
  /** Bilinear only: map corner pixel centers onto each other (true) or scale pixel areas (false, the default). */
  alignCorners?: boolean | null;
}

/**
 * PyTorch 1.13's nearest source index, computed in float32 as its kernel does: the identity when
 * sizes match, `i >> 1` when doubling, else `min(⌊i·s⌋, in − 1)` with `s = 1/scaleFactor` (or `in/out`).
 */
function nearestSources(inSize: number, outSize: number, scale: number | null): number[] {
  const ratio = Math.fround(scale !== null && scale > 0 ? 1 / scale : inSize / outSize);
  return Array.from({ length: outSize }, (_, i) => {
    if (outSize === inSize) return i;
    if (outSize === 2 * inSize) return i >> 1;
    return Math.min(Math.floor(Math.fround(i * ratio)), inSize - 1);
  });
}

/**
 * PyTorch 1.13's linear taps: source `r = ratio·i` (alignCorners, `ratio = (in − 1)/(out − 1)`)
 * or `max(ratio·(i + ½) − ½, 0)` (`ratio = 1/scaleFactor` or `in/out`); taps ⌊r⌋ and ⌊r⌋ + 1
 * (clamped to the last) with weights `1 − (r − ⌊r⌋)` and `r − ⌊r⌋`.
 */
function linearTaps(inSize: number, outSize: number, alignCorners: boolean, scale: number | null) {
  const ratio = alignCorners
    ? outSize > 1
      ? (inSize - 1) / (outSize - 1)
      : 0
    : scale !== null && scale > 0
      ? 1 / scale
      : inSize / outSize;
  const taps = { first: [] as number[], second: [] as number[], w0: [] as number[], w1: [] as number[] };
  for (let i = 0; i < outSize; i++) {
    const source = alignCorners ? ratio * i : Math.max(ratio * (i + 0.5) - 0.5, 0);
    const index = Math.trunc(source);
    taps.first.push(index);
    taps.second.push(index + (index < inSize - 1 ? 1 : 0));
    taps.w1.push(source - index);
    taps.w0.push(1 - (source - index));
  }
  return taps;
}

/** One value per spatial dim from a number or a list, checked to be positive. */
function perDim(value: number | readonly number[], dims: number, what: string): number[] {
  const values = typeof value === "number" ? Array.from({ length: dims }, () => value) : [...value];
  if (values.length !== dims || !values.every((v) => Number.isFinite(v) && v > 0)) {
    throw new RangeError(
      `interpolate: ${what} must be a positive number or ${dims} of them, got ${formatValue(value)}`,
    );
  }
  return values;
}

/**
 * Resizes the spatial dims of x (N, C, L) or (N, C, H, W), as PyTorch 1.13's `F.interpolate`.
 * `"nearest"`: `y[..., i] = x[..., min(⌊i·s⌋, in − 1)]` with `s = 1/scaleFactor` if given, else
 * `in/out` (in float32, as PyTorch). `"bilinear"` (4-D): each output is the weighted sum of its two
 * nearest source rows, then columns, with the source coordinate `(i + ½)·s − ½` clamped at 0
 * (`alignCorners: false`, default) or `i·(in − 1)/(out − 1)` (`alignCorners: true`). Output size:
 * `size`, or `⌊in·scaleFactor⌋`. Differentiable in x (gathers and a weighted sum).
 */
export function interpolate(x: Tensor, options: InterpolateOptions = {}): Tensor {
  const { size, scaleFactor, mode = "nearest", alignCorners = null } = options;
  if (mode !== "nearest" && mode !== "bilinear") {
    throw new RangeError(`interpolate: mode must be "nearest" or "bilinear", got ${formatValue(mode)}`);
  }
  const spatial = x.ndim - 2;
  if (mode === "bilinear" ? x.ndim !== 4 : x.ndim !== 3 && x.ndim !== 4) {
    throw new RangeError(
      `interpolate: mode ${mode} expects a ${mode === "bilinear" ? "(N, C, H, W)" : "(N, C, L) or (N, C, H, W)"} input, got ${formatShape(x.shape)}`,
    );
  }
  assertFloat(x, "interpolate input");
  if (mode === "nearest" && alignCorners !== null) {
    throw new RangeError(
      `interpolate: alignCorners (${alignCorners}) can only be set with the interpolating mode bilinear, not nearest`,
    );
  }
  if ((size === undefined) === (scaleFactor === undefined)) {
    throw new RangeError(
      `interpolate: exactly one of size and scaleFactor must be given, got size ${formatValue(size)} and scaleFactor ${formatValue(scaleFactor)}`,
    );
  }
  const scales = scaleFactor === undefined ? null : perDim(scaleFactor, spatial, "scaleFactor");
  const inSizes = x.shape.slice(2);
  const outSizes =
    size !== undefined
      ? perDim(size, spatial, "size")
      : inSizes.map((n, d) => Math.floor(n * (scales?.[d] ?? 1)));
  if (!outSizes.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new RangeError(
      `interpolate: the output size [${outSizes.join(", ")}] of input ${formatShape(x.shape)} must be positive integers`,
    );
  }
  const indexTensor = (values: number[]) =>
    fromValues(values, [values.length], { dtype: "int32", device: x.device });
  let y = x;
  // The last dim first, as PyTorch's bilinear kernel sums the columns inside each row tap.
  for (let d = spatial - 1; d >= 0; d--) {
    const [axis, inSize, outSize, scale] = [2 + d, inSizes[d], outSizes[d], scales?.[d] ?? null];
    if (mode === "nearest") {
      y = y.indexSelect(axis, indexTensor(nearestSources(inSize, outSize, scale)));
      continue;
    }
    if (outSize === inSize) continue;
    const taps = linearTaps(inSize, outSize, alignCorners ?? false, scale);
    const shape = axis === 2 ? [outSize, 1] : [outSize];
    const weight = (values: number[]) => fromValues(values, shape, { dtype: x.dtype, device: x.device });
    y = y
      .indexSelect(axis, indexTensor(taps.first))
      .mul(weight(taps.w0))
      .add(y.indexSelect(axis, indexTensor(taps.second)).mul(weight(taps.w1)));
  }
  return y;
}
