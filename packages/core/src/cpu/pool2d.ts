// The 2-D pooling kernels on the CPU: max (with indices) and average, forward and backward, direct loops.
import type { AvgPool2dParams, Pool2dParams } from "../backend.ts";
import type { Shape } from "../shape.ts";

type FloatArray = Float32Array | Float64Array;

function allocateLike(like: FloatArray, size: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(size) : new Float32Array(size);
}

/**
 * Max over each (dilated) window of every (n, c) plane of contiguous x (N, C, H, W) from
 * `offset`. Padding is −∞, so it never wins. The first maximum wins ties; a NaN always wins (the last one), as PyTorch.
 */
export function maxPool2dForward(
  x: FloatArray,
  offset: number,
  inputShape: Shape,
  params: Pool2dParams,
): { values: FloatArray; indices: Int32Array } {
  const [batch, channels, height, width] = inputShape;
  const [outH, outW] = params.outputSize;
  const [kernelH, kernelW] = params.kernelSize;
  const [strideH, strideW] = params.stride;
  const [padH, padW] = params.padding;
  const [dilationH, dilationW] = params.dilation;
  const planes = batch * channels;
  const values = allocateLike(x, planes * outH * outW);
  const indices = new Int32Array(planes * outH * outW);
  let o = 0;
  for (let plane = 0; plane < planes; plane++) {
    const base = offset + plane * height * width;
    for (let oy = 0; oy < outH; oy++) {
      let y0 = oy * strideH - padH;
      const y1 = Math.min(y0 + (kernelH - 1) * dilationH + 1, height);
      while (y0 < 0) y0 += dilationH;
      for (let ox = 0; ox < outW; ox++, o++) {
        let x0 = ox * strideW - padW;
        const x1 = Math.min(x0 + (kernelW - 1) * dilationW + 1, width);
        while (x0 < 0) x0 += dilationW;
        let best = Number.NEGATIVE_INFINITY;
        let bestIndex = y0 * width + x0;
        for (let y = y0; y < y1; y += dilationH) {
          for (let xi = x0; xi < x1; xi += dilationW) {
            const index = y * width + xi;
            const value = x[base + index];
            if (value > best || Number.isNaN(value)) {
              best = value;
              bestIndex = index;
            }
          }
        }
        values[o] = best;
        indices[o] = bestIndex;
      }
    }
  }
  return { values, indices };
}

/** dx of max pooling: each dy goes to the input pixel its window's maximum came from. */
export function maxPool2dBackward(
  dy: FloatArray,
  dyOffset: number,
  indices: Int32Array,
  indicesOffset: number,
  outputPlane: number,
  inputShape: Shape,
): FloatArray {
  const [batch, channels, height, width] = inputShape;
  const plane = height * width;
  const dx = allocateLike(dy, batch * channels * plane);
  for (let p = 0; p < batch * channels; p++) {
    for (let i = 0; i < outputPlane; i++) {
      const at = p * outputPlane + i;
      dx[p * plane + indices[indicesOffset + at]] += dy[dyOffset + at];
    }
  }
  return dx;
}

/**
 * Calls `visit(y0, y1, x0, x1, divisor)` for every output position of one plane, with the window
 * clipped to the input and PyTorch's divisor: the window clipped to the padded input
 * (`countIncludePad`), or to the input, or `divisorOverride`. Empty windows get divisor 0.
 */
function forEachAverageWindow(
  inputShape: Shape,
  params: AvgPool2dParams,
  visit: (y0: number, y1: number, x0: number, x1: number, divisor: number) => void,
): void {
  const [height, width] = [inputShape[2], inputShape[3]];
  const [outH, outW] = params.outputSize;
  const [kernelH, kernelW] = params.kernelSize;
  const [strideH, strideW] = params.stride;
  const [padH, padW] = params.padding;
  for (let oy = 0; oy < outH; oy++) {
    const top = oy * strideH - padH;
    const bottom = Math.min(top + kernelH, height + padH);
    const y0 = Math.max(top, 0);
    const y1 = Math.min(bottom, height);
    for (let ox = 0; ox < outW; ox++) {
      const left = ox * strideW - padW;
      const right = Math.min(left + kernelW, width + padW);
      const x0 = Math.max(left, 0);
      const x1 = Math.min(right, width);
      const inside = (y1 - y0) * (x1 - x0);
      const divisor =
        y0 >= y1 || x0 >= x1
          ? 0
          : (params.divisorOverride ?? (params.countIncludePad ? (bottom - top) * (right - left) : inside));
      visit(y0, y1, x0, x1, divisor);
    }
  }
}

/** Average over each window of contiguous x (N, C, H, W) from `offset`; an empty window gives 0. */
export function avgPool2dForward(
  x: FloatArray,
  offset: number,
  inputShape: Shape,
  params: AvgPool2dParams,
): FloatArray {
  const [batch, channels, height, width] = inputShape;
  const [outH, outW] = params.outputSize;
  const out = allocateLike(x, batch * channels * outH * outW);
  let o = 0;
  for (let plane = 0; plane < batch * channels; plane++) {
    const base = offset + plane * height * width;
    forEachAverageWindow(inputShape, params, (y0, y1, x0, x1, divisor) => {
      let sum = 0;
      for (let y = y0; y < y1; y++) {
        const row = base + y * width;
        for (let xi = x0; xi < x1; xi++) sum += x[row + xi];
      }
      out[o++] = divisor === 0 ? 0 : sum / divisor;
    });
  }
  return out;
}

/** dx of average pooling: each dy / divisor is added to every input pixel of its window. */
export function avgPool2dBackward(
  dy: FloatArray,
  dyOffset: number,
  inputShape: Shape,
  params: AvgPool2dParams,
): FloatArray {
  const [batch, channels, height, width] = inputShape;
  const dx = allocateLike(dy, batch * channels * height * width);
  let o = dyOffset;
  for (let plane = 0; plane < batch * channels; plane++) {
    const base = plane * height * width;
    forEachAverageWindow(inputShape, params, (y0, y1, x0, x1, divisor) => {
      const share = divisor === 0 ? 0 : dy[o] / divisor;
      o++;
      for (let y = y0; y < y1; y++) {
        const row = base + y * width;
        for (let xi = x0; xi < x1; xi++) dx[row + xi] += share;
      }
    });
  }
  return dx;
}
