// Element types: the four dtypes, their typed arrays, and type promotion.
import { formatValue } from "./format.ts";

/**
 * The element types a tensor can hold. `float32` is the default, as in PyTorch; `bool` is what
 * comparisons return (one byte per element, 0 or 1).
 */
export type DType = "float32" | "float64" | "int32" | "bool";

/** The typed array that stores each dtype, row-major. */
export interface TypedArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  bool: Uint8Array;
}

/** Any of the typed arrays a tensor's values come back in. */
export type TypedArray = TypedArrayOf[DType];

/** Every dtype, in promotion order (bool < int32 < float32 < float64). */
export const DTYPES: readonly DType[] = ["bool", "int32", "float32", "float64"];

/** Allocates a zero-filled typed array of `size` elements for `dtype`. */
export function allocateTypedArray(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
    case "bool":
      return new Uint8Array(size);
    default:
      return dtype satisfies never;
  }
}

/** The dtype a typed array holds. */
export function dtypeOfArray(values: TypedArray): DType {
  if (values instanceof Float32Array) return "float32";
  if (values instanceof Float64Array) return "float64";
  if (values instanceof Uint8Array) return "bool";
  return "int32";
}

/** True for float32 and float64. */
export function isFloating(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64";
}

/** True for the dtypes of masks: bool, and int32 0/1 (what comparisons returned before bool existed). */
export function isMaskDtype(dtype: DType): boolean {
  return dtype === "bool" || dtype === "int32";
}

/**
 * The result dtype of a binary op, as PyTorch promotes: bool < int32 < float32 < float64.
 * (`bool + int32 → int32`, `int32 + float32 → float32`, `float32 * float64 → float64`.)
 */
export function promoteTypes(a: DType, b: DType): DType {
  return DTYPES.indexOf(a) >= DTYPES.indexOf(b) ? a : b;
}

/** Checks a user-given string is a dtype, naming the valid ones when it is not. */
export function assertDType(value: unknown): asserts value is DType {
  if (value !== "float32" && value !== "float64" && value !== "int32" && value !== "bool") {
    throw new TypeError(`unknown dtype ${formatValue(value)}: expected one of ${DTYPES.join(", ")}`);
  }
}

/**
 * Throws unless `value` fits int32 once its fraction is dropped (floats truncate toward zero,
 * as in PyTorch); an Int32Array would wrap 3e9 to −1294967296 silently. `what` names the caller.
 */
export function assertInt32(value: number, what: string): void {
  if (value > -2147483649 && value < 2147483648) return;
  throw new RangeError(
    `${what}: ${value} does not fit int32 (−2147483648 to 2147483647): use float32 or float64`,
  );
}
