// Printing tensors the way PyTorch does: aligned values, 4 decimals or scientific, summarised when large.
import { formatShape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

const SUMMARY_THRESHOLD = 1000;
const EDGE_ITEMS = 3;

function valueFormatter(values: ArrayLike<number>, isInteger: boolean): (value: number) => string {
  if (isInteger) return (value) => String(value);
  // Loops, not Math.max(...values): spreading a large tensor overflows the call stack.
  let integral = true;
  let largest = 0;
  let smallest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (!Number.isFinite(value)) continue;
    if (!Number.isInteger(value)) integral = false;
    const magnitude = Math.abs(value);
    if (magnitude > 0) {
      largest = Math.max(largest, magnitude);
      smallest = Math.min(smallest, magnitude);
    }
  }
  // PyTorch's rule: scientific when the nonzero magnitudes span more than 10³ or exceed 10⁸, or
  // (for non-integers) go below 10⁻⁴.
  const scientific = largest / smallest > 1e3 || largest > 1e8 || (!integral && smallest < 1e-4);
  return (value) => {
    if (Number.isNaN(value)) return "nan";
    if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
    if (scientific) return value.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2");
    return integral ? `${value.toFixed(0)}.` : value.toFixed(4);
  };
}

/** Formats a tensor as `tensor([...], shape=[…], dtype=…)` with PyTorch's value layout. */
export function formatTensor(tensor: Tensor): string {
  if (tensor.isDisposed)
    return `tensor(<disposed>, shape=${formatShape(tensor.shape)}, dtype=${tensor.dtype})`;
  const values = tensor.dataSync();
  const summarise = values.length > SUMMARY_THRESHOLD;
  const shape = tensor.shape;
  const prefix = "tensor(";
  const steps = shape.map((_, axis) => shape.slice(axis + 1).reduce((a, b) => a * b, 1));
  /** The indices printed along a dim of `count`: all, or the edges around a gap (−1). */
  const shownIndices = (count: number): number[] => {
    if (!summarise || count <= 2 * EDGE_ITEMS) return Array.from({ length: count }, (_, i) => i);
    const edge = Array.from({ length: EDGE_ITEMS }, (_, i) => i);
    return [...edge, -1, ...edge.map((i) => count - EDGE_ITEMS + i)];
  };

  // As PyTorch, only the printed values choose the format and the width (and only they are formatted).
  const shown: number[] = [];
  const collect = (axis: number, start: number): void => {
    if (axis === shape.length) shown.push(values[start]);
    else for (const i of shownIndices(shape[axis])) if (i >= 0) collect(axis + 1, start + i * steps[axis]);
  };
  collect(0, 0);
  const format =
    tensor.dtype === "bool"
      ? (value: number) => (value !== 0 ? "True" : "False")
      : valueFormatter(shown, tensor.dtype === "int32");
  const width = shown.reduce((widest, value) => Math.max(widest, format(value).length), 0);

  const render = (axis: number, start: number, indent: number): string => {
    if (axis === shape.length - 1) {
      const items = shownIndices(shape[axis]).map((i) =>
        i < 0 ? " ..." : format(values[start + i * steps[axis]]).padStart(width),
      );
      // Wrap at 80 columns, as PyTorch's linewidth.
      const perLine = Math.max(1, Math.floor((80 - indent) / (width + 2)));
      const lines: string[] = [];
      for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(", "));
      return `[${lines.join(`,\n${" ".repeat(indent + 1)}`)}]`;
    }
    const parts = shownIndices(shape[axis]).map((i) =>
      i < 0 ? "..." : render(axis + 1, start + i * steps[axis], indent + 1),
    );
    const separator = `,${"\n".repeat(shape.length - axis - 1)}${" ".repeat(indent + 1)}`;
    return `[${parts.join(separator)}]`;
  };

  // An empty tensor prints as [] whatever its shape, as in PyTorch.
  const body =
    shape.length === 0 ? format(values[0]) : values.length === 0 ? "[]" : render(0, 0, prefix.length);
  const extras = [`shape=${formatShape(shape)}`, `dtype=${tensor.dtype}`];
  if (tensor.device !== "cpu") extras.push(`device=${tensor.device}`);
  if (tensor.gradFn !== null) extras.push(`gradFn=${tensor.gradFn.name}`);
  else if (tensor.requiresGrad) extras.push("requiresGrad=true");
  return `${prefix}${body}, ${extras.join(", ")})`;
}

/**
 * A value from user code as an error message prints it: strings quoted, numbers as JavaScript
 * writes them (`NaN`, `Infinity`; JSON would say `null`), arrays item by item, anything else by
 * its kind. Long strings and arrays are cut, so that absurd inputs still give short errors.
 */
export function formatValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) {
    // Only the items shown are formatted (a huge array is not walked), nested arrays as […].
    const item = (entry: unknown) => (Array.isArray(entry) ? "[…]" : formatValue(entry));
    if (value.length <= 12) return `[${value.map(item).join(", ")}]`;
    return `[${value.slice(0, 6).map(item).join(", ")}, … (${value.length} items)]`;
  }
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) {
    if ("shape" in value && Array.isArray(value.shape) && "dtype" in value) {
      return `a Tensor of shape ${formatShape(value.shape)}`;
    }
    const kind = value.constructor?.name;
    return typeof kind === "string" && kind !== "" && kind !== "Object" ? `a ${kind}` : "an object";
  }
  return String(value);
}
