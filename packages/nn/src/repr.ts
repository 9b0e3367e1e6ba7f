// Python-style formatting for module reprs: floats as Python's repr prints them, tuples, booleans.

/**
 * A number as Python's `repr(float)` prints it: the shortest digits that round-trip, in fixed
 * notation for exponents −4 ≤ e < 16 (always with a fractional part: `1.0`, `0.1`), otherwise in
 * scientific notation with a signed, at least two-digit exponent (`1e-05`, `1.5e+16`);
 * `nan`, `inf`, `-inf` for the special values.
 */
export function formatPythonFloat(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Number.POSITIVE_INFINITY) return "inf";
  if (value === Number.NEGATIVE_INFINITY) return "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const sign = value < 0 ? "-" : "";
  // toExponential() with no argument gives the shortest round-tripping digits, as Python's repr.
  const [mantissa, exponentText] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : "";
    const magnitude = String(Math.abs(exponent)).padStart(2, "0");
    return `${sign}${digits[0]}${fraction}e${exponent < 0 ? "-" : "+"}${magnitude}`;
  }
  if (exponent < 0) return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, "0");
  const fraction = digits.slice(exponent + 1);
  return `${sign}${whole}.${fraction === "" ? "0" : fraction}`;
}

/** `True` / `False`. */
export function formatPythonBool(value: boolean): string {
  return value ? "True" : "False";
}

/** A Python tuple of ints: `(3, 3)`, `(5,)` for one element. */
export function formatPythonTuple(values: readonly number[]): string {
  return values.length === 1 ? `(${values[0]},)` : `(${values.join(", ")})`;
}

/** Indents every line but the first by `spaces` (PyTorch's `_addindent`, for nested reprs). */
export function indentNested(text: string, spaces: number): string {
  const [first, ...rest] = text.split("\n");
  if (rest.length === 0) return first;
  const pad = " ".repeat(spaces);
  return [first, ...rest.map((line) => pad + line)].join("\n");
}
