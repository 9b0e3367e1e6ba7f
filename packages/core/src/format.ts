// Printing tensors the way PyTorch does: aligned values, 4 decimals or scientific, summarised when large.
import type { Tensor } from "./tensor.ts";

const SUMMARY_THRESHOLD = 1000;
const EDGE_ITEMS = 3;

function valueFormatter(values: ArrayLike<number>, isInteger: boolean): (value: number) => string {
  const finite = Array.from(values).filter(Number.isFinite);
  if (isInteger) return (value) => String(value);
  if (finite.every(Number.isInteger) && finite.every((value) => Math.abs(value) < 1e8)) {
    return (value) =>
      Number.isFinite(value) ? `${value.toFixed(0)}.` : String(value).replace("Infinity", "inf");
  }
  const magnitudes = finite.map(Math.abs).filter((value) => value > 0);
  const largest = Math.max(0, ...magnitudes);
  const smallest = Math.min(Number.POSITIVE_INFINITY, ...magnitudes);
  const scientific = largest >= 1e8 || smallest < 1e-4 || largest / smallest > 1e3 * 1e4;
  return (value) => {
    if (Number.isNaN(value)) return "nan";
    if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
    return scientific ? value.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2") : value.toFixed(4);
  };
}

/** Formats a tensor as `tensor([...], shape=[…], dtype=…)` with PyTorch's value layout. */
export function formatTensor(tensor: Tensor): string {
  if (tensor.isDisposed)
    return `tensor(<disposed>, shape=[${tensor.shape.join(", ")}], dtype=${tensor.dtype})`;
  const values = tensor.dataSync();
  const summarise = values.length > SUMMARY_THRESHOLD;
  const format = valueFormatter(values, tensor.dtype === "int32");
  const strings = Array.from(values, format);
  const width = Math.max(0, ...strings.map((s) => s.length));
  const shape = tensor.shape;
  const prefix = "tensor(";

  const render = (axis: number, start: number, indent: number): string => {
    if (axis === shape.length) return strings[start].padStart(width);
    const step = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const count = shape[axis];
    let indices = Array.from({ length: count }, (_, i) => i);
    if (summarise && count > 2 * EDGE_ITEMS) {
      indices = [...indices.slice(0, EDGE_ITEMS), -1, ...indices.slice(count - EDGE_ITEMS)];
    }
    const parts = indices.map((i) => (i < 0 ? "..." : render(axis + 1, start + i * step, indent + 1)));
    if (axis === shape.length - 1) return `[${parts.join(", ")}]`;
    const separator = `,${"\n".repeat(shape.length - axis - 1)}${" ".repeat(indent + 1)}`;
    return `[${parts.join(separator)}]`;
  };

  const body = shape.length === 0 ? strings[0] : render(0, 0, prefix.length);
  const extras = [`shape=[${shape.join(", ")}]`, `dtype=${tensor.dtype}`];
  if (tensor.device !== "cpu") extras.push(`device=${tensor.device}`);
  if (tensor.gradFn !== null) extras.push(`gradFn=${tensor.gradFn.name}`);
  else if (tensor.requiresGrad) extras.push("requiresGrad=true");
  return `${prefix}${body}, ${extras.join(", ")})`;
}
