// Direct 2-D convolution kernels over contiguous NCHW: forward, input gradient, weight gradient.
import type { Conv2dKernelParams, Shape } from "@normgrad/core";
import { emitCoordinates, emitDivision, emitPlaneCoordinates, KernelSource } from "../kernel-source.ts";
import type { Operand } from "./elementwise.ts";

/** The sizes every convolution kernel needs, resolved from the shapes and params. */
export interface ConvGeometry {
  readonly batch: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly outChannels: number;
  readonly kernelH: number;
  readonly kernelW: number;
  readonly outH: number;
  readonly outW: number;
  /** Input channels per group (weight dim 1). */
  readonly groupIn: number;
  /** Output channels per group. */
  readonly groupOut: number;
}

/** The sizes of input, weight and output (the output size comes resolved in the params). */
export function convGeometry(
  inputShape: Shape,
  weightShape: Shape,
  params: Conv2dKernelParams,
): ConvGeometry {
  const [batch, channels, height, width] = inputShape;
  const [outChannels, groupIn, kernelH, kernelW] = weightShape;
  const [outH, outW] = params.outputSize;
  return {
    batch,
    channels,
    height,
    width,
    outChannels,
    kernelH,
    kernelW,
    outH,
    outW,
    groupIn,
    groupOut: outChannels / params.groups,
  };
}

/** Uniforms shared by the three kernels, named for readability of the generated source. */
function uniforms(source: KernelSource, g: ConvGeometry, params: Conv2dKernelParams) {
  return {
    channels: source.number(g.channels),
    height: source.number(g.height),
    width: source.number(g.width),
    outChannels: source.number(g.outChannels),
    kernelH: source.number(g.kernelH),
    kernelW: source.number(g.kernelW),
    outH: source.number(g.outH),
    outW: source.number(g.outW),
    groupIn: source.number(g.groupIn),
    groupOut: source.number(g.groupOut),
    strideH: source.number(params.stride[0]),
    strideW: source.number(params.stride[1]),
    padTop: source.number(params.padding[0][0]),
    padLeft: source.number(params.padding[1][0]),
    dilationH: source.number(params.dilation[0]),
    dilationW: source.number(params.dilation[1]),
  };
}

/** y[n, o, oy, ox] = Σ_{c in o's group, ky, kx} x[n, c, oy·sh − pt + ky·dh, ox·sw − pl + kx·dw]·w[o, c, ky, kx]. */
export function conv2dSource(
  x: Operand,
  weight: Operand,
  g: ConvGeometry,
  params: Conv2dKernelParams,
  { grid }: { grid: boolean },
): KernelSource {
  const source = new KernelSource();
  const [xs, ws] = [source.array(x.buffer), source.array(weight.buffer)];
  const u = uniforms(source, g, params);
  const [xo, wo] = [source.number(x.offset), source.number(weight.offset)];
  const [n, o, oy, ox] = emitPlaneCoordinates(source, [g.batch, g.outChannels, g.outH, g.outW], grid, "c");
  emitDivision(source, o, u.groupOut, "group", "unused");
  source.line(
    "let total = 0;",
    `for (let ci = 0; ci < ${u.groupIn}; ci++) {`,
    `const xPlane = ${xo} + (${n} * ${u.channels} + group * ${u.groupIn} + ci) * ${u.height};`,
    `const wPlane = ${wo} + (${o} * ${u.groupIn} + ci) * ${u.kernelH};`,
    `for (let ky = 0; ky < ${u.kernelH}; ky++) {`,
    `const y = ${oy} * ${u.strideH} - ${u.padTop} + ky * ${u.dilationH};`,
    `const yc = Math.min(Math.max(y, 0), ${u.height} - 1);`,
    `for (let kx = 0; kx < ${u.kernelW}; kx++) {`,
    `const x = ${ox} * ${u.strideW} - ${u.padLeft} + kx * ${u.dilationW};`,
    `const xc = Math.min(Math.max(x, 0), ${u.width} - 1);`,
    `const v = ${xs}[(xPlane + yc) * ${u.width} + xc] * ${ws}[(wPlane + ky) * ${u.kernelW} + kx];`,
    `total += y >= 0 && y < ${u.height} && x >= 0 && x < ${u.width} ? v : 0;`,
    "}",
    "}",
    "}",
    "return total;",
  );
  return source;
}

/**
 * dx[n, c, y, x] = Σ dy[n, o, oy, ox]·w[o, c, ky, kx] over the o of c's group and the taps with
 * y = oy·sh − pt + ky·dh (and likewise x) for an integer oy in range: the transposed convolution,
 * one input pixel per thread.
 */
export function conv2dInputGradSource(
  dy: Operand,
  weight: Operand,
  g: ConvGeometry,
  params: Conv2dKernelParams,
  { grid }: { grid: boolean },
): KernelSource {
  const source = new KernelSource();
  const [ds, ws] = [source.array(dy.buffer), source.array(weight.buffer)];
  const u = uniforms(source, g, params);
  const [dyo, wo] = [source.number(dy.offset), source.number(weight.offset)];
  const [n, c, y, x] = emitPlaneCoordinates(source, [g.batch, g.channels, g.height, g.width], grid, "c");
  emitDivision(source, c, u.groupIn, "group", "ci");
  source.line(
    "let total = 0;",
    `for (let oj = 0; oj < ${u.groupOut}; oj++) {`,
    `const o = group * ${u.groupOut} + oj;`,
    `const dyPlane = ${dyo} + (${n} * ${u.outChannels} + o) * ${u.outH};`,
    `const wPlane = ${wo} + (o * ${u.groupIn} + ci) * ${u.kernelH};`,
    `for (let ky = 0; ky < ${u.kernelH}; ky++) {`,
    `const ty = ${y} + ${u.padTop} - ky * ${u.dilationH};`,
  );
  emitDivision(source, "ty", u.strideH, "oy", "ry");
  source.line(
    `const yOk = ry === 0 && oy >= 0 && oy < ${u.outH} ? 1 : 0;`,
    `const oyc = Math.min(Math.max(oy, 0), ${u.outH} - 1);`,
    `for (let kx = 0; kx < ${u.kernelW}; kx++) {`,
    `const tx = ${x} + ${u.padLeft} - kx * ${u.dilationW};`,
  );
  emitDivision(source, "tx", u.strideW, "ox", "rx");
  source.line(
    `const oxc = Math.min(Math.max(ox, 0), ${u.outW} - 1);`,
    `const v = ${ds}[(dyPlane + oyc) * ${u.outW} + oxc] * ${ws}[(wPlane + ky) * ${u.kernelW} + kx];`,
    `total += yOk === 1 && rx === 0 && ox >= 0 && ox < ${u.outW} ? v : 0;`,
    "}",
    "}",
    "}",
    "return total;",
  );
  return source;
}

/** dw[o, c, ky, kx] = Σ_{n, oy, ox} dy[n, o, oy, ox]·x[n, group·C/g + c, oy·sh − pt + ky·dh, ox·sw − pl + kx·dw]. */
export function conv2dWeightGradSource(
  x: Operand,
  dy: Operand,
  g: ConvGeometry,
  params: Conv2dKernelParams,
): KernelSource {
  const source = new KernelSource();
  const [xs, ds] = [source.array(x.buffer), source.array(dy.buffer)];
  const u = uniforms(source, g, params);
  const batch = source.number(g.batch);
  const [xo, dyo] = [source.number(x.offset), source.number(dy.offset)];
  source.line("const i = this.thread.x;");
  const [o, ci, ky, kx] = emitCoordinates(source, [g.outChannels, g.groupIn, g.kernelH, g.kernelW], "i", "c");
  emitDivision(source, o, u.groupOut, "group", "unused");
  source.line(
    "let total = 0;",
    `for (let n = 0; n < ${batch}; n++) {`,
    `const xPlane = ${xo} + (n * ${u.channels} + group * ${u.groupIn} + ${ci}) * ${u.height};`,
    `const dyPlane = ${dyo} + (n * ${u.outChannels} + ${o}) * ${u.outH};`,
    `for (let oy = 0; oy < ${u.outH}; oy++) {`,
    `const y = oy * ${u.strideH} - ${u.padTop} + ${ky} * ${u.dilationH};`,
    `const yc = Math.min(Math.max(y, 0), ${u.height} - 1);`,
    "let row = 0;",
    `for (let ox = 0; ox < ${u.outW}; ox++) {`,
    `const x = ox * ${u.strideW} - ${u.padLeft} + ${kx} * ${u.dilationW};`,
    `const xc = Math.min(Math.max(x, 0), ${u.width} - 1);`,
    `const v = ${ds}[(dyPlane + oy) * ${u.outW} + ox] * ${xs}[(xPlane + yc) * ${u.width} + xc];`,
    `row += x >= 0 && x < ${u.width} ? v : 0;`,
    "}",
    `total += y >= 0 && y < ${u.height} ? row : 0;`,
    "}",
    "}",
    "return total;",
  );
  return source;
}
