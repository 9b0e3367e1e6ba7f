// Reduction kernels: one thread per kept element loops over the reduced ones (sum, max, min, argmax, argmin).
import type { ReduceOp } from "@normgrad/core";
import { address, collapseDims, emitCoordinates, KernelSource } from "../kernel-source.ts";
import type { Operand } from "./elementwise.ts";

/**
 * Reduces `axes` of x. Kept and reduced dims are collapsed separately; the reduced ones become
 * nested loops (bounds as uniforms). Sums add each innermost row into its own partial first,
 * which keeps float32 rounding error growing with the row length, not the whole count. The
 * first extreme wins ties and NaN counts as the extreme, as on the CPU.
 */
export function reduceSource(
  op: ReduceOp,
  x: Operand,
  shape: readonly number[],
  axes: readonly number[],
): KernelSource {
  const keptAxes = shape.map((_, axis) => axis).filter((axis) => !axes.includes(axis));
  const kept = collapseDims(
    keptAxes.map((axis) => shape[axis]),
    [{ strides: keptAxes.map((axis) => x.strides[axis]), offset: x.offset }],
  );
  const reduced = collapseDims(
    axes.map((axis) => shape[axis]),
    [{ strides: axes.map((axis) => x.strides[axis]), offset: 0 }],
  );
  const source = new KernelSource();
  const array = source.array(x.buffer);
  source.line("const i = this.thread.x;");
  const coordinates = emitCoordinates(source, kept.shape, "i", "c");
  source.line(`const base = ${address(source, kept.operands[0], coordinates)};`);
  const rank = reduced.shape.length;
  const loopVariables = reduced.shape.map((_, axis) => `r${axis}`);
  const position = [
    "base",
    ...loopVariables.map((r, axis) => `${r} * ${source.number(reduced.operands[0].strides[axis])}`),
  ];
  const isArg = op === "argmax" || op === "argmin";
  if (rank === 0) {
    source.line(`return ${isArg ? "0" : `${array}[base]`};`);
    return source;
  }
  const bounds = reduced.shape.map((dim) => source.number(dim));
  const value = `${array}[${position.join(" + ")}]`;
  switch (op) {
    case "sum":
      source.line("let total = 0;");
      break;
    case "max":
    case "min":
      source.line(`let best = ${array}[base];`);
      break;
    case "argmax":
    case "argmin":
      source.line(`let best = ${array}[base];`, "let bestAt = 0;", "let at = 0;");
      break;
    default:
      op satisfies never;
  }
  loopVariables.forEach((r, axis) => {
    if (axis === rank - 1 && op === "sum") source.line("let row = 0;");
    source.line(`for (let ${r} = 0; ${r} < ${bounds[axis]}; ${r}++) {`);
  });
  source.line(`const v = ${value};`);
  switch (op) {
    case "sum":
      source.line("row += v;");
      break;
    case "max":
      source.line("if (v > best || v !== v) { best = v; }");
      break;
    case "min":
      source.line("if (v < best || v !== v) { best = v; }");
      break;
    case "argmax":
      source.line("if (v > best || (v !== v && best === best)) { best = v; bestAt = at; }", "at += 1;");
      break;
    case "argmin":
      source.line("if (v < best || (v !== v && best === best)) { best = v; bestAt = at; }", "at += 1;");
      break;
    default:
      op satisfies never;
  }
  for (let depth = rank - 1; depth >= 0; depth--) {
    source.line("}");
    if (depth === rank - 1 && op === "sum") source.line("total += row;");
  }
  source.line(`return ${op === "sum" ? "total" : isArg ? "bestAt" : "best"};`);
  return source;
}
