// The Upsample layer: F.interpolate with fixed options.
import type { Tensor } from "@normgrad/core";
import { type InterpolateMode, type InterpolateOptions, interpolate } from "../functional/upsample.ts";
import { Module } from "../module.ts";
import { formatPythonFloat } from "../repr.ts";

/**
 * Resizes (N, C, L) or (N, C, H, W) input to `size` or by `scaleFactor` with mode `"nearest"`
 * (default) or `"bilinear"` (see `F.interpolate` for the coordinate formulas). Has no state.
 */
export class Upsample extends Module {
  readonly size: number | readonly number[] | null;
  readonly scaleFactor: number | readonly number[] | null;
  readonly mode: InterpolateMode;
  readonly alignCorners: boolean | null;

  constructor(options: InterpolateOptions = {}) {
    super();
    const { size, scaleFactor, mode = "nearest", alignCorners = null } = options;
    if ((size === undefined) === (scaleFactor === undefined)) {
      throw new RangeError(
        `Upsample: exactly one of size and scaleFactor must be given, got size ${String(size)} and scaleFactor ${String(scaleFactor)}`,
      );
    }
    if (mode !== "nearest" && mode !== "bilinear")
      throw new RangeError(`Upsample: mode must be "nearest" or "bilinear", got ${String(mode)}`);
    if (mode === "nearest" && alignCorners !== null) {
      throw new RangeError(`Upsample: alignCorners (${alignCorners}) can only be set with mode bilinear`);
    }
    this.size = size ?? null;
    this.scaleFactor = scaleFactor ?? null;
    this.mode = mode;
    this.alignCorners = alignCorners;
  }

  forward(x: Tensor): Tensor {
    return interpolate(x, {
      size: this.size ?? undefined,
      scaleFactor: this.scaleFactor ?? undefined,
      mode: this.mode,
      alignCorners: this.alignCorners,
    });
  }

  override extraRepr(): string {
    const tuple = (values: readonly string[]) => `(${values.join(", ")}${values.length === 1 ? "," : ""})`;
    const { scaleFactor: scale, size } = this;
    const info =
      scale !== null
        ? `scale_factor=${typeof scale === "number" ? formatPythonFloat(scale) : tuple(scale.map(formatPythonFloat))}`
        : `size=${typeof size === "number" ? size : tuple((size ?? []).map(String))}`;
    return `${info}, mode=${this.mode}`;
  }
}
