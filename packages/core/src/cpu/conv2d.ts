// The 2-D convolution kernels on the CPU: im2col + the blocked gemm, and their two gradients.
import type { Conv2dKernelParams } from "../backend.ts";
import type { Shape } from "../shape.ts";
import { gemmPreferringWasm } from "./wasm-gemm.ts";

type FloatArray = Float32Array | Float64Array;

/** Every size a convolution loop needs, resolved once from the shapes and params. */
interface ConvGeometry {
  readonly batch: number;
  readonly inChannels: number;
  readonly height: number;
  readonly width: number;
  readonly outChannels: number;
  readonly kernelH: number;
  readonly kernelW: number;
  readonly outH: number;
  readonly outW: number;
  readonly groups: number;
  /** Input channels per group. */
  readonly groupIn: number;
  /** Output channels per group. */
  readonly groupOut: number;
  /** Rows of the im2col matrix: groupIn·kernelH·kernelW. */
  readonly patch: number;
  readonly params: Conv2dKernelParams;
}

/** The geometry of a convolution; the output size comes resolved in the params (the `conv2d` primitive computes it). */
function geometryOf(inputShape: Shape, weightShape: Shape, params: Conv2dKernelParams): ConvGeometry {
  const [outH, outW] = params.outputSize;
  const groupIn = weightShape[1];
  return {
    batch: inputShape[0],
    inChannels: inputShape[1],
    height: inputShape[2],
    width: inputShape[3],
    outChannels: weightShape[0],
    kernelH: weightShape[2],
    kernelW: weightShape[3],
    outH,
    outW,
    groups: params.groups,
    groupIn,
    groupOut: weightShape[0] / params.groups,
    patch: groupIn * weightShape[2] * weightShape[3],
    params,
  };
}

/** The first and one-past-last output column whose tap `kx` lands inside the input row. */
function validColumns(g: ConvGeometry, kx: number): [number, number] {
  const stride = g.params.stride[1];
  const shift = kx * g.params.dilation[1] - g.params.padding[1][0];
  const low = Math.max(0, Math.ceil(-shift / stride));
  const high = Math.min(g.outW, Math.floor((g.width - 1 - shift) / stride) + 1);
  return [low, Math.max(low, high)];
}

/**
 * Fills `cols` (patch × outH·outW) with the receptive fields of one image and group: row
 * (c, ky, kx) holds input pixel (c, y·sh − pt + ky·dh, x·sw − pl + kx·dw) for every output (y, x),
 * zero where that falls in the padding.
 */
function im2col(x: FloatArray, imageBase: number, g: ConvGeometry, cols: FloatArray): void {
  const { stride, dilation, padding } = g.params;
  const plane = g.height * g.width;
  const positions = g.outH * g.outW;
  for (let c = 0; c < g.groupIn; c++) {
    const channelBase = imageBase + c * plane;
    for (let ky = 0; ky < g.kernelH; ky++) {
      for (let kx = 0; kx < g.kernelW; kx++) {
        const rowBase = ((c * g.kernelH + ky) * g.kernelW + kx) * positions;
        const [low, high] = validColumns(g, kx);
        const shiftX = kx * dilation[1] - padding[1][0];
        for (let y = 0; y < g.outH; y++) {
          const out = rowBase + y * g.outW;
          const iy = y * stride[0] - padding[0][0] + ky * dilation[0];
          if (iy < 0 || iy >= g.height) {
            cols.fill(0, out, out + g.outW);
            continue;
          }
          const inputRow = channelBase + iy * g.width + shiftX;
          cols.fill(0, out, out + low);
          for (let ox = low; ox < high; ox++) cols[out + ox] = x[inputRow + ox * stride[1]];
          cols.fill(0, out + high, out + g.outW);
        }
      }
    }
  }
}

/** The adjoint of im2col: adds every entry of `cols` back onto the input pixel it was read from. */
function col2imAdd(cols: FloatArray, g: ConvGeometry, dx: FloatArray, imageBase: number): void {
  const { stride, dilation, padding } = g.params;
  const plane = g.height * g.width;
  const positions = g.outH * g.outW;
  for (let c = 0; c < g.groupIn; c++) {
    const channelBase = imageBase + c * plane;
    for (let ky = 0; ky < g.kernelH; ky++) {
      for (let kx = 0; kx < g.kernelW; kx++) {
        const rowBase = ((c * g.kernelH + ky) * g.kernelW + kx) * positions;
        const [low, high] = validColumns(g, kx);
        const shiftX = kx * dilation[1] - padding[1][0];
        for (let y = 0; y < g.outH; y++) {
          const iy = y * stride[0] - padding[0][0] + ky * dilation[0];
          if (iy < 0 || iy >= g.height) continue;
          const inputRow = channelBase + iy * g.width + shiftX;
          const from = rowBase + y * g.outW;
          for (let ox = low; ox < high; ox++) dx[inputRow + ox * stride[1]] += cols[from + ox];
        }
      }
    }
  }
}

function allocateLike(like: FloatArray, size: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(size) : new Float32Array(size);
}

/**
 * y[n, o] = Σ_c W[o, c] ⋆ x[n, c] per group: for each image and group, im2col then one gemm
 * (groupOut × patch) · (patch × outH·outW). `x` (N, C, H, W) and `weight` (O, C/groups, KH, KW)
 * are contiguous from `xOffset`/`wOffset`; returns (N, O, OH, OW).
 */
export function conv2dForward(
  x: FloatArray,
  xOffset: number,
  inputShape: Shape,
  weight: FloatArray,
  wOffset: number,
  weightShape: Shape,
  params: Conv2dKernelParams,
): FloatArray {
  const g = geometryOf(inputShape, weightShape, params);
  const positions = g.outH * g.outW;
  const out = allocateLike(x, g.batch * g.outChannels * positions);
  const cols = allocateLike(x, g.patch * positions);
  const groupWeights = packGroupWeights(weight, wOffset, g);
  for (let n = 0; n < g.batch; n++) {
    for (let group = 0; group < g.groups; group++) {
      const imageBase = xOffset + (n * g.inChannels + group * g.groupIn) * g.height * g.width;
      im2col(x, imageBase, g, cols);
      const outBase = (n * g.outChannels + group * g.groupOut) * positions;
      gemmPreferringWasm(
        groupWeights[group],
        cols,
        out.subarray(outBase, outBase + g.groupOut * positions),
        g.groupOut,
        g.patch,
        positions,
      );
    }
  }
  return out;
}

/** Each group's weights as a contiguous (groupOut × patch) matrix. */
function packGroupWeights(weight: FloatArray, wOffset: number, g: ConvGeometry): FloatArray[] {
  const size = g.groupOut * g.patch;
  return Array.from({ length: g.groups }, (_, group) =>
    weight.slice(wOffset + group * size, wOffset + (group + 1) * size),
  );
}

/**
 * dL/dx: per image and group, dcols = Wᵀ (patch × groupOut) · dy (groupOut × outH·outW), then
 * col2im adds each column back onto the pixels it came from. Returns (N, C, H, W).
 */
export function conv2dInputGrad(
  dy: FloatArray,
  dyOffset: number,
  weight: FloatArray,
  wOffset: number,
  inputShape: Shape,
  weightShape: Shape,
  params: Conv2dKernelParams,
): FloatArray {
  const g = geometryOf(inputShape, weightShape, params);
  const positions = g.outH * g.outW;
  const dx = allocateLike(dy, g.batch * g.inChannels * g.height * g.width);
  const dcols = allocateLike(dy, g.patch * positions);
  const transposed = packGroupWeights(weight, wOffset, g).map((matrix) => {
    const out = allocateLike(dy, g.patch * g.groupOut);
    for (let o = 0; o < g.groupOut; o++) {
      for (let p = 0; p < g.patch; p++) out[p * g.groupOut + o] = matrix[o * g.patch + p];
    }
    return out;
  });
  for (let n = 0; n < g.batch; n++) {
    for (let group = 0; group < g.groups; group++) {
      const dyBase = dyOffset + (n * g.outChannels + group * g.groupOut) * positions;
      dcols.fill(0);
      gemmPreferringWasm(
        transposed[group],
        dy.subarray(dyBase, dyBase + g.groupOut * positions),
        dcols,
        g.patch,
        g.groupOut,
        positions,
      );
      col2imAdd(dcols, g, dx, (n * g.inChannels + group * g.groupIn) * g.height * g.width);
    }
  }
  return dx;
}

/**
 * dL/dW = Σ_n dy[n] (groupOut × outH·outW) · colsᵀ (outH·outW × patch), per group; the
 * transposed im2col is built directly so gemm reads it row-major. Returns (O, C/groups, KH, KW).
 */
export function conv2dWeightGrad(
  x: FloatArray,
  xOffset: number,
  dy: FloatArray,
  dyOffset: number,
  inputShape: Shape,
  weightShape: Shape,
  params: Conv2dKernelParams,
): FloatArray {
  const g = geometryOf(inputShape, weightShape, params);
  const positions = g.outH * g.outW;
  const cols = allocateLike(x, g.patch * positions);
  const colsT = allocateLike(x, positions * g.patch);
  const dw = allocateLike(x, g.outChannels * g.patch);
  const groupSize = g.groupOut * g.patch;
  for (let n = 0; n < g.batch; n++) {
    for (let group = 0; group < g.groups; group++) {
      im2col(x, xOffset + (n * g.inChannels + group * g.groupIn) * g.height * g.width, g, cols);
      for (let p = 0; p < g.patch; p++) {
        for (let q = 0; q < positions; q++) colsT[q * g.patch + p] = cols[p * positions + q];
      }
      const dyBase = dyOffset + (n * g.outChannels + group * g.groupOut) * positions;
      gemmPreferringWasm(
        dy.subarray(dyBase, dyBase + g.groupOut * positions),
        colsT,
        dw.subarray(group * groupSize, (group + 1) * groupSize),
        g.groupOut,
        positions,
        g.patch,
      );
    }
  }
  return dw;
}
