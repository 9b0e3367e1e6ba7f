// 2-D pooling kernels over contiguous NCHW: max (indices, then values) and average, forward and backward.
import type { AvgPool2dParams, Pool2dParams } from "@normgrad/core";
import { emitDivision, emitPlaneCoordinates, KernelSource } from "../kernel-source.ts";
import type { Operand } from "./elementwise.ts";

/** Planes (N·C), input height and width of an NCHW shape. */
export interface PoolPlanes {
  readonly planes: number;
  readonly height: number;
  readonly width: number;
}

/**
 * The flat index `y·W + x` of each window's maximum within its plane. Padding never wins; the
 * first maximum wins ties and a NaN always wins (the last one), as on the CPU; a window of −∞
 * gives its first tap inside the input.
 */
export function maxPoolIndexSource(
  x: Operand,
  planes: PoolPlanes,
  params: Pool2dParams,
  { grid }: { grid: boolean },
): KernelSource {
  const source = new KernelSource();
  const xs = source.array(x.buffer);
  const [height, width] = [source.number(planes.height), source.number(planes.width)];
  const [kernelH, kernelW] = params.kernelSize.map((k) => source.number(k));
  const [strideH, strideW] = params.stride.map((s) => source.number(s));
  const [padH, padW] = params.padding.map((p) => source.number(p));
  const [dilationH, dilationW] = params.dilation.map((d) => source.number(d));
  const base = source.number(x.offset);
  const [plane, oy, ox] = emitPlaneCoordinates(source, [planes.planes, ...params.outputSize], grid, "c");
  source.line(
    `const xPlane = ${base} + ${plane} * ${height} * ${width};`,
    "let best = 0;",
    "let bestAt = -1;",
    `for (let ky = 0; ky < ${kernelH}; ky++) {`,
    `const y = ${oy} * ${strideH} - ${padH} + ky * ${dilationH};`,
    `const yc = Math.min(Math.max(y, 0), ${height} - 1);`,
    `for (let kx = 0; kx < ${kernelW}; kx++) {`,
    `const x = ${ox} * ${strideW} - ${padW} + kx * ${dilationW};`,
    `const xc = Math.min(Math.max(x, 0), ${width} - 1);`,
    `const v = ${xs}[xPlane + yc * ${width} + xc];`,
    `if (y >= 0 && y < ${height} && x >= 0 && x < ${width}) {`,
    "if (bestAt < 0 || v > best || v !== v) {",
    "best = v;",
    `bestAt = y * ${width} + x;`,
    "}",
    "}",
    "}",
    "}",
    "return bestAt;",
  );
  return source;
}

/** The values at recorded indices: `out[plane, o] = x[plane, indices[plane, o]]`. */
export function takeByIndexSource(
  x: Operand,
  indices: Operand,
  planeSize: number,
  outputPlane: number,
): KernelSource {
  const source = new KernelSource();
  const [xs, is] = [source.array(x.buffer), source.array(indices.buffer)];
  source.line("const i = this.thread.x;");
  emitDivision(source, "i", source.number(outputPlane), "plane", "unused");
  source.line(
    `return ${xs}[${source.number(x.offset)} + plane * ${source.number(planeSize)} + ${is}[${source.number(indices.offset)} + i]];`,
  );
  return source;
}

/**
 * dx of max pooling, one input pixel per thread: the sum of dy over the windows that hold this
 * pixel and recorded it as their maximum. The pooling geometry finds those windows directly
 * (one per tap) instead of scanning the whole output plane.
 */
export function maxPoolBackwardSource(
  dy: Operand,
  indices: Operand,
  planes: PoolPlanes,
  params: Pool2dParams,
  { grid }: { grid: boolean },
): KernelSource {
  const source = new KernelSource();
  const [ds, is] = [source.array(dy.buffer), source.array(indices.buffer)];
  const width = source.number(planes.width);
  const [outH, outW] = params.outputSize.map((size) => source.number(size));
  const [dyo, io] = [source.number(dy.offset), source.number(indices.offset)];
  const [plane, y, x] = emitPlaneCoordinates(source, [planes.planes, planes.height, planes.width], grid, "c");
  source.line(
    `const outPlane = ${plane} * ${outH} * ${outW};`,
    `const here = ${y} * ${width} + ${x};`,
    "let total = 0;",
  );
  const [kernelH, kernelW] = params.kernelSize.map((k) => source.number(k));
  const [strideH, strideW] = params.stride.map((s) => source.number(s));
  const [padH, padW] = params.padding.map((p) => source.number(p));
  const [dilationH, dilationW] = params.dilation.map((d) => source.number(d));
  source.line(`for (let ky = 0; ky < ${kernelH}; ky++) {`, `const ty = ${y} + ${padH} - ky * ${dilationH};`);
  emitDivision(source, "ty", strideH, "oy", "ry");
  source.line(
    `const oyc = Math.min(Math.max(oy, 0), ${outH} - 1);`,
    `for (let kx = 0; kx < ${kernelW}; kx++) {`,
    `const tx = ${x} + ${padW} - kx * ${dilationW};`,
  );
  emitDivision(source, "tx", strideW, "ox", "rx");
  source.line(
    `const oxc = Math.min(Math.max(ox, 0), ${outW} - 1);`,
    `const at = outPlane + oyc * ${outW} + oxc;`,
    `const hit = ry === 0 && rx === 0 && oy >= 0 && oy < ${outH} && ox >= 0 && ox < ${outW} && ${is}[${io} + at] === here ? 1 : 0;`,
    `total += hit === 1 ? ${ds}[${dyo} + at] : 0;`,
    "}",
    "}",
    "return total;",
  );
  return source;
}

/** Emits the window of output (oy, ox): clipped bounds ya ≤ y < yb, xa ≤ x < xb and PyTorch's divisor. */
function emitAverageWindow(
  source: KernelSource,
  oy: string,
  ox: string,
  planes: PoolPlanes,
  params: AvgPool2dParams,
  suffix: string,
): void {
  const [height, width] = [source.number(planes.height), source.number(planes.width)];
  const [kernelH, kernelW] = params.kernelSize.map((k) => source.number(k));
  const [strideH, strideW] = params.stride.map((s) => source.number(s));
  const [padH, padW] = params.padding.map((p) => source.number(p));
  const override = source.number(params.divisorOverride ?? 0);
  const countPad = source.number(params.countIncludePad ? 1 : 0);
  source.line(
    `const top${suffix} = ${oy} * ${strideH} - ${padH};`,
    `const bottom${suffix} = Math.min(top${suffix} + ${kernelH}, ${height} + ${padH});`,
    `const ya${suffix} = Math.max(top${suffix}, 0);`,
    `const yb${suffix} = Math.min(bottom${suffix}, ${height});`,
    `const left${suffix} = ${ox} * ${strideW} - ${padW};`,
    `const right${suffix} = Math.min(left${suffix} + ${kernelW}, ${width} + ${padW});`,
    `const xa${suffix} = Math.max(left${suffix}, 0);`,
    `const xb${suffix} = Math.min(right${suffix}, ${width});`,
    `const empty${suffix} = ya${suffix} >= yb${suffix} || xa${suffix} >= xb${suffix} ? 1 : 0;`,
    `const counted${suffix} = ${countPad} === 1 ? (bottom${suffix} - top${suffix}) * (right${suffix} - left${suffix}) : (yb${suffix} - ya${suffix}) * (xb${suffix} - xa${suffix});`,
    `const divisor${suffix} = empty${suffix} === 1 ? 0 : (${override} > 0 ? ${override} : counted${suffix});`,
  );
}

/** Mean over each window with PyTorch's divisor (an empty window gives 0). */
export function avgPoolSource(
  x: Operand,
  planes: PoolPlanes,
  params: AvgPool2dParams,
  { grid }: { grid: boolean },
): KernelSource {
  const source = new KernelSource();
  const xs = source.array(x.buffer);
  const base = source.number(x.offset);
  const [plane, oy, ox] = emitPlaneCoordinates(source, [planes.planes, ...params.outputSize], grid, "c");
  emitAverageWindow(source, oy, ox, planes, params, "");
  const [kernelH, kernelW] = params.kernelSize.map((k) => source.number(k));
  const [height, width] = [source.number(planes.height), source.number(planes.width)];
  source.line(
    `const xPlane = ${base} + ${plane} * ${height} * ${width};`,
    "let total = 0;",
    `for (let ky = 0; ky < ${kernelH}; ky++) {`,
    "const y = top + ky;",
    `const yc = Math.min(Math.max(y, 0), ${height} - 1);`,
    `for (let kx = 0; kx < ${kernelW}; kx++) {`,
    "const x = left + kx;",
    `const xc = Math.min(Math.max(x, 0), ${width} - 1);`,
    `const v = ${xs}[xPlane + yc * ${width} + xc];`,
    "total += y >= ya && y < yb && x >= xa && x < xb ? v : 0;",
    "}",
    "}",
    "return divisor === 0 ? 0 : total / divisor;",
  );
  return source;
}

/** dx of average pooling, one input pixel per thread: Σ dy/divisor over the windows holding it. */
export function avgPoolBackwardSource(
  dy: Operand,
  planes: PoolPlanes,
  params: AvgPool2dParams,
  { grid }: { grid: boolean },
): KernelSource {
  const source = new KernelSource();
  const ds = source.array(dy.buffer);
  const [outH, outW] = params.outputSize.map((size) => source.number(size));
  const dyo = source.number(dy.offset);
  const [kernelH, kernelW] = params.kernelSize.map((k) => source.number(k));
  const [strideH, strideW] = params.stride.map((s) => source.number(s));
  const [padH, padW] = params.padding.map((p) => source.number(p));
  const [plane, y, x] = emitPlaneCoordinates(source, [planes.planes, planes.height, planes.width], grid, "c");
  source.line(
    "let total = 0;",
    `for (let ky = 0; ky < ${kernelH}; ky++) {`,
    `const ty = ${y} + ${padH} - ky;`,
  );
  emitDivision(source, "ty", strideH, "oy", "ry");
  source.line(
    `const oyc = Math.min(Math.max(oy, 0), ${outH} - 1);`,
    `for (let kx = 0; kx < ${kernelW}; kx++) {`,
    `const tx = ${x} + ${padW} - kx;`,
  );
  emitDivision(source, "tx", strideW, "ox", "rx");
  source.line(`const oxc = Math.min(Math.max(ox, 0), ${outW} - 1);`);
  emitAverageWindow(source, "oyc", "oxc", planes, params, "w");
  source.line(
    `const g = ${ds}[${dyo} + (${plane} * ${outH} + oyc) * ${outW} + oxc];`,
    `const hit = ry === 0 && rx === 0 && oy >= 0 && oy < ${outH} && ox >= 0 && ox < ${outW} && divisorw > 0 ? 1 : 0;`,
    "total += hit === 1 ? g / divisorw : 0;",
    "}",
    "}",
    "return total;",
  );
  return source;
}
