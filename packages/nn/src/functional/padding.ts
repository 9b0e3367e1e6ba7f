// Functional padding (PyTorch's F.pad): constant, and reflect/replicate/circular as index gathers.
import { formatValue, fromValues, type Tensor } from "@normgrad/core";

/** How `pad` fills: a constant, the mirror image without the edge, the edge repeated, or a wrap-around. */
export type PadMode = "constant" | "reflect" | "replicate" | "circular";

const PAD_MODES: readonly PadMode[] = ["constant", "reflect", "replicate", "circular"];

/** The source index of padded position `i` (−before ≤ i < size + after) along a dim of `size`. */
function sourceIndex(mode: Exclude<PadMode, "constant">, i: number, size: number): number {
  if (mode === "replicate") return Math.min(Math.max(i, 0), size - 1);
  if (mode === "circular") return ((i % size) + size) % size;
  return i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i;
}

/**
 * Pads `x` as PyTorch's `F.pad`: `padding` is `[left, right]` for the last dim, then
 * `[top, bottom]` for the one before, and so on. `"constant"` (default) fills with `value`
 * (default 0); `"reflect"` mirrors without repeating the edge (`[a b c]` → `c b [a b c] b a`,
 * each amount < the dim's size); `"replicate"` repeats the edge; `"circular"` wraps around
 * (each amount ≤ the dim's size). The non-constant modes gather along each padded dim, so the
 * gradient is a scatter-add onto the sources.
 */
export function pad(
  x: Tensor,
  padding: readonly number[],
  { mode = "constant", value = 0 }: { mode?: PadMode; value?: number } = {},
): Tensor {
  if (!PAD_MODES.includes(mode)) {
    throw new RangeError(`pad: mode must be one of ${PAD_MODES.join(", ")}, got ${formatValue(mode)}`);
  }
  if (mode === "constant") return x.pad(padding, value);
  if (padding.length % 2 !== 0 || padding.length / 2 > x.ndim) {
    throw new RangeError(
      `pad: ${padding.length} values do not make (before, after) pairs for ${x.ndim} dims`,
    );
  }
  let y = x;
  for (let k = 0; k < padding.length / 2; k++) {
    const [before, after] = [padding[2 * k], padding[2 * k + 1]];
    const axis = x.ndim - 1 - k;
    const size = x.shape[axis];
    if (![before, after].every((amount) => Number.isInteger(amount) && amount >= 0)) {
      throw new RangeError(`pad: amounts must be non-negative integers, got [${padding.join(", ")}]`);
    }
    const limit = mode === "reflect" ? size - 1 : mode === "circular" ? size : Number.POSITIVE_INFINITY;
    if (before > limit || after > limit || size === 0) {
      throw new RangeError(
        `pad: ${mode} padding (${before}, ${after}) of dim ${axis} must be ${mode === "reflect" ? "less than" : "at most"} ` +
          `its size ${size} (input ${formatValue(x.shape)})`,
      );
    }
    if (before === 0 && after === 0) continue;
    const sources = Array.from({ length: before + size + after }, (_, i) =>
      sourceIndex(mode, i - before, size),
    );
    y = y.indexSelect(axis, fromValues(sources, [sources.length], { dtype: "int32", device: x.device }));
  }
  return y;
}
