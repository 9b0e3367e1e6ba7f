// Movement kernels: constant padding, concatenation, gather and its adjoint scatter-add.
import type { Shape } from "@normgrad/core";
import { address, collapseDims, emitCoordinates, KernelSource } from "../kernel-source.ts";
import type { Operand } from "./elementwise.ts";

// Kernels read every operand a ternary names (webasm evaluates both sides of a select), so a
// coordinate that may fall outside its operand is clamped into range before the read.

/** `name = min(max(value, 0), size − 1)` */
function clampLine(name: string, value: string, size: string): string {
  return `const ${name} = Math.min(Math.max(${value}, 0), ${size} - 1);`;
}

/** x padded with `value`: `padding[axis]` = (before, after) elements. */
export function padSource(
  x: Operand,
  shape: Shape,
  padding: readonly (readonly [number, number])[],
  value: number,
): KernelSource {
  const outShape = shape.map((dim, axis) => dim + padding[axis][0] + padding[axis][1]);
  const source = new KernelSource();
  const array = source.array(x.buffer);
  source.line("const i = this.thread.x;");
  const coordinates = emitCoordinates(source, outShape, "i", "c");
  const inside: string[] = [];
  const clamped = coordinates.map((c, axis) => {
    const before = source.number(padding[axis][0]);
    const size = source.number(shape[axis]);
    source.line(clampLine(`k${axis}`, `${c} - ${before}`, size));
    inside.push(`(${c} - ${before} >= 0 && ${c} - ${before} < ${size} ? 1 : 0)`);
    return `k${axis}`;
  });
  source.line(
    `const inside = ${inside.length === 0 ? "1" : inside.join(" * ")};`,
    `const v = ${array}[${address(source, x, clamped)}];`,
    `return inside === 1 ? v : ${source.number(value)};`,
  );
  return source;
}

/**
 * Places up to six inputs along `axis` of the output (`starts[k]` = where input k begins),
 * over `previous` (the inputs placed by earlier calls) when given.
 */
export function catSource(
  inputs: readonly { operand: Operand; shape: Shape; start: number }[],
  previous: Operand | null,
  outShape: Shape,
  axis: number,
): KernelSource {
  const source = new KernelSource();
  const arrays = inputs.map(({ operand }) => source.array(operand.buffer));
  const previousArray = previous && source.array(previous.buffer);
  source.line("const i = this.thread.x;");
  const coordinates = emitCoordinates(source, outShape, "i", "c");
  source.line(`let r = ${previousArray === null ? "0" : `${previousArray}[i]`};`);
  inputs.forEach(({ operand, shape, start }, k) => {
    const from = source.number(start);
    const size = source.number(shape[axis]);
    source.line(clampLine(`a${k}`, `c${axis} - ${from}`, size));
    const at = coordinates.map((c, d) => (d === axis ? `a${k}` : c));
    source.line(
      `const v${k} = ${arrays[k]}[${address(source, operand, at)}];`,
      `r = c${axis} >= ${from} && c${axis} - ${from} < ${size} ? v${k} : r;`,
    );
  });
  source.line("return r;");
  return source;
}

/** `out[…] = x[…, index[…], …]` along `axis` (torch.gather); the output has index's shape. */
export function gatherSource(x: Operand, axis: number, index: Operand, indexShape: Shape): KernelSource {
  const walk = { strides: x.strides.map((stride, d) => (d === axis ? 0 : stride)), offset: x.offset };
  const collapsed = collapseDims(indexShape, [index, walk]);
  const source = new KernelSource();
  const values = source.array(x.buffer);
  const indices = source.array(index.buffer);
  source.line("const i = this.thread.x;");
  const coordinates = emitCoordinates(source, collapsed.shape, "i", "c");
  source.line(
    `const p = ${indices}[${address(source, collapsed.operands[0], coordinates)}];`,
    `return ${values}[${address(source, collapsed.operands[1], coordinates)} + p * ${source.number(x.strides[axis])}];`,
  );
  return source;
}

/**
 * The adjoint of gather: `out[c] = Σⱼ source[c with j at axis]` over the j where
 * `index[c with j at axis] = c[axis]`, zero where c lies outside index's extent. Each output
 * loops over index's extent along `axis` (gather-style, so no two threads write one element).
 */
export function scatterAddSource(
  values: Operand,
  axis: number,
  index: Operand,
  indexShape: Shape,
  outShape: Shape,
): KernelSource {
  const source = new KernelSource();
  const valueArray = source.array(values.buffer);
  const indexArray = source.array(index.buffer);
  source.line("const i = this.thread.x;");
  const coordinates = emitCoordinates(source, outShape, "i", "c");
  const inside: string[] = [];
  const clamped = coordinates.map((c, d) => {
    if (d === axis) return "j";
    const size = source.number(indexShape[d]);
    inside.push(`(${c} < ${size} ? 1 : 0)`);
    source.line(clampLine(`k${d}`, c, size));
    return `k${d}`;
  });
  source.line(
    `const inside = ${inside.length === 0 ? "1" : inside.join(" * ")};`,
    "let total = 0;",
    `for (let j = 0; j < ${source.number(indexShape[axis])}; j++) {`,
    `const p = ${indexArray}[${address(source, index, clamped)}];`,
    `const v = ${valueArray}[${address(source, values, clamped)}];`,
    `total += p === c${axis} ? v : 0;`,
    "}",
    "return inside === 1 ? total : 0;",
  );
  return source;
}
