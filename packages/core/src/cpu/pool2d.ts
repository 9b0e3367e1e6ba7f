// The 2-D pooling kernels on the CPU: max (with indices) and average, forward and backward, direct loops.
import type { AvgPool2dParams, Pool2dParams } from "../backend.ts";
import type { Shape } from "../shape.ts";
import { takeArray, takeFloat32 } from "./buffer-pool.ts";
import { wasmMaxPool2x2 } from "./wasm-pool2d.ts";

type FloatArray = Float32Array | Float64Array;

/** A zeroed array of `like`'s type; float32 ones come from the pool (fresh memory page-faults at first touch). */
function allocateLike(like: FloatArray, size: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(size) : takeFloat32(size).fill(0);
}

/** An int32 array from the pool, for indices the caller writes in full. */
function takeIndices(length: number): Int32Array {
  const array = takeArray("int32", length, true);
  return array instanceof Int32Array ? array : new Int32Array(length);
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
  const indices = takeIndices(planes * outH * outW);
  const window2x2 = kernelH === 2 && kernelW === 2 && strideH === 2 && strideW === 2;
  const plain = padH === 0 && padW === 0 && dilationH === 1 && dilationW === 1;
  if (window2x2 && plain && 2 * outH <= height && 2 * outW <= width) {
    const geometry = [height, width, outH, outW] as const;
    const onWasm = x instanceof Float32Array && values instanceof Float32Array;
    if (!onWasm || !wasmMaxPool2x2(x, offset, planes, geometry, values, indices)) {
      maxPool2x2(x, offset, planes, height, width, outH, outW, values, indices);
    }
    return { values, indices };
  }
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

/**
 * The 2×2 stride-2 window inside the input (MaxPool2d(2) on most CNNs): the general loop's rule
 * (in row-major order, a value wins if greater or NaN) unrolled, without its window clipping:
 * measured 35-40 % faster on W5's two pools.
 */
function maxPool2x2(
  x: FloatArray,
  offset: number,
  planes: number,
  height: number,
  width: number,
  outH: number,
  outW: number,
  values: FloatArray,
  indices: Int32Array,
): void {
  let o = 0;
  for (let plane = 0; plane < planes; plane++) {
    const base = offset + plane * height * width;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++, o++) {
        const topLeft = 2 * oy * width + 2 * ox;
        const b = x[base + topLeft + 1];
        const c = x[base + topLeft + width];
        const d = x[base + topLeft + width + 1];
        let best = x[base + topLeft];
        let bestIndex = topLeft;
        if (b > best || Number.isNaN(b)) {
          best = b;
          bestIndex = topLeft + 1;
        }
        if (c > best || Number.isNaN(c)) {
          best = c;
          bestIndex = topLeft + width;
        }
        if (d > best || Number.isNaN(d)) {
          best = d;
          bestIndex = topLeft + width + 1;
        }
        values[o] = best;
        indices[o] = bestIndex;
      }
    }
  }
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
