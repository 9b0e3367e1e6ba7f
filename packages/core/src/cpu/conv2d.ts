// The 2-D convolution kernels on the CPU and their two gradients: im2col + gemm, float32 packed straight into the wasm kernel's panels.
import type { Conv2dKernelParams } from "../backend.ts";
import type { Shape } from "../shape.ts";
import { gemm } from "./gemm.ts";
import {
  canUseWasmGemm,
  PANEL_COLUMNS,
  PANEL_ROWS,
  type PackOperand,
  packRowPanelsOnce,
  wasmGemm,
} from "./wasm-gemm.ts";

// Local copies: some loaders turn imported bindings into getters, too slow for the packing loops.
const COLUMNS = PANEL_COLUMNS;
const ROWS = PANEL_ROWS;

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
  /** Pixels per input channel: height·width. */
  readonly plane: number;
  /** Output pixels per image and channel: outH·outW. */
  readonly positions: number;
  /** Kernel taps: kernelH·kernelW. */
  readonly taps: number;
  readonly groups: number;
  /** Input channels per group. */
  readonly groupIn: number;
  /** Output channels per group. */
  readonly groupOut: number;
  /** Rows of the im2col matrix: groupIn·kernelH·kernelW. */
  readonly patch: number;
  readonly params: Conv2dKernelParams;
  /** Where each tap reads for each output position ({@link tapSources}). */
  readonly sources: Int32Array;
}

/** The geometry of a convolution; the output size comes resolved in the params (the `conv2d` primitive computes it). */
function geometryOf(inputShape: Shape, weightShape: Shape, params: Conv2dKernelParams): ConvGeometry {
  const [outH, outW] = params.outputSize;
  const groupIn = weightShape[1];
  const geometry = {
    batch: inputShape[0],
    inChannels: inputShape[1],
    height: inputShape[2],
    width: inputShape[3],
    outChannels: weightShape[0],
    kernelH: weightShape[2],
    kernelW: weightShape[3],
    outH,
    outW,
    plane: inputShape[2] * inputShape[3],
    positions: outH * outW,
    taps: weightShape[2] * weightShape[3],
    groups: params.groups,
    groupIn,
    groupOut: weightShape[0] / params.groups,
    patch: groupIn * weightShape[2] * weightShape[3],
    params,
  };
  return { ...geometry, sources: tapSources(geometry) };
}

/**
 * Where im2col entry (patch row r, output position q) lives in an array: at
 * `start + rowOffset[r] + positionOffset[q]`, so one im2col fills a plain matrix, its transpose or
 * a packed gemm operand alike.
 */
interface ColumnLayout {
  readonly rowOffset: Int32Array;
  readonly positionOffset: Int32Array;
}

function columnLayout(
  g: ConvGeometry,
  row: (r: number) => number,
  position: (q: number) => number,
): ColumnLayout {
  const rowOffset = new Int32Array(g.patch);
  for (let r = 0; r < g.patch; r++) rowOffset[r] = row(r);
  const positionOffset = new Int32Array(g.positions);
  for (let q = 0; q < g.positions; q++) positionOffset[q] = position(q);
  return { rowOffset, positionOffset };
}

/**
 * For each kernel tap t = ky·KW + kx and output position q = y·outW + x, the offset within a
 * channel plane of the input pixel it reads, (y·sh − pt + ky·dh)·W + (x·sw − pl + kx·dw), or −1
 * where that falls in the padding.
 */
function tapSources(g: Omit<ConvGeometry, "sources">): Int32Array {
  const { stride, dilation, padding } = g.params;
  const sources = new Int32Array(g.taps * g.positions);
  let i = 0;
  for (let ky = 0; ky < g.kernelH; ky++) {
    for (let kx = 0; kx < g.kernelW; kx++) {
      for (let y = 0; y < g.outH; y++) {
        const iy = y * stride[0] - padding[0][0] + ky * dilation[0];
        for (let x = 0; x < g.outW; x++, i++) {
          const ix = x * stride[1] - padding[1][0] + kx * dilation[1];
          sources[i] = iy < 0 || iy >= g.height || ix < 0 || ix >= g.width ? -1 : iy * g.width + ix;
        }
      }
    }
  }
  return sources;
}

/** Writes the receptive fields of one image and group into `cols` at `layout`: entry (r = (c, tap), q) is x[c, sources[tap, q]], or 0. */
function im2col(
  x: FloatArray,
  imageBase: number,
  g: ConvGeometry,
  cols: FloatArray,
  start: number,
  layout: ColumnLayout,
) {
  const { rowOffset, positionOffset } = layout;
  const { sources, positions, taps, plane } = g;
  for (let c = 0; c < g.groupIn; c++) {
    const channel = imageBase + c * plane;
    for (let t = 0; t < taps; t++) {
      const row = start + rowOffset[c * taps + t];
      const tap = t * positions;
      for (let q = 0; q < positions; q++) {
        const source = sources[tap + q];
        cols[row + positionOffset[q]] = source < 0 ? 0 : x[channel + source];
      }
    }
  }
}

/** The adjoint of im2col: adds every entry of `cols` (a plain patch × positions matrix) back onto the input pixel it was read from. */
function col2imAdd(cols: FloatArray, g: ConvGeometry, dx: FloatArray, imageBase: number): void {
  const { sources, positions, taps, plane } = g;
  for (let c = 0; c < g.groupIn; c++) {
    const channel = imageBase + c * plane;
    for (let t = 0; t < taps; t++) {
      const from = (c * taps + t) * positions;
      const tap = t * positions;
      for (let q = 0; q < positions; q++) {
        const source = sources[tap + q];
        if (source >= 0) dx[channel + source] += cols[from + q];
      }
    }
  }
}

/** Kept across calls and grown on demand: fresh memory page-faults on first touch, costly at these sizes. */
let scratch = new Float32Array(0);

/** A float32 temporary of `length` elements, valid until the next call (the kernels here do not nest). */
function float32Scratch(length: number): Float32Array {
  if (scratch.length < length) scratch = new Float32Array(length);
  return scratch.subarray(0, length);
}

function allocateLike(like: FloatArray, size: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(size) : new Float32Array(size);
}

/** Offset of image n's group `group` in an NCHW array with `channels` channels of `plane` elements, `perGroup` per group. */
function groupBase(n: number, group: number, channels: number, perGroup: number, plane: number): number {
  return (n * channels + group * perGroup) * plane;
}

/**
 * y[n, o] = Σ_c W[o, c] ⋆ x[n, c] per group: for each image and group, im2col then one gemm
 * (groupOut × patch) · (patch × outH·outW). `x` (N, C, H, W) and `weight` (O, C/groups, KH, KW)
 * are contiguous from `xOffset`/`wOffset`; returns (N, O, OH, OW). In float32 the im2col is written
 * straight into the wasm kernel's packed B and the weights are packed once per call.
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
  const { positions, patch, groupOut } = g;
  const size = g.batch * g.outChannels * positions;
  const weightBase = (group: number) => wOffset + group * groupOut * patch;
  if (x instanceof Float32Array && canUseWasmGemm(groupOut, patch, positions)) {
    const out = new Float32Array(size);
    const packed = columnLayout(
      g,
      (r) => r * COLUMNS,
      (q) => Math.floor(q / COLUMNS) * patch * COLUMNS + (q % COLUMNS),
    );
    const weights = Array.from({ length: g.groups }, (_, group) =>
      packRowPanelsOnce(
        { data: weight, offset: weightBase(group), rowStride: patch, colStride: 1 },
        groupOut,
        patch,
      ),
    );
    for (let n = 0; n < g.batch; n++) {
      for (let group = 0; group < g.groups; group++) {
        const imageBase = xOffset + groupBase(n, group, g.inChannels, g.groupIn, g.plane);
        const packCols: PackOperand = (memory, start) => im2col(x, imageBase, g, memory, start, packed);
        const outBase = groupBase(n, group, g.outChannels, groupOut, positions);
        const y = out.subarray(outBase, outBase + groupOut * positions);
        wasmGemm(weights[group], packCols, y, groupOut, patch, positions, { accumulate: false });
      }
    }
    return out;
  }
  const out = allocateLike(x, size);
  const cols = allocateLike(x, patch * positions);
  const plain = columnLayout(
    g,
    (r) => r * positions,
    (q) => q,
  );
  for (let n = 0; n < g.batch; n++) {
    for (let group = 0; group < g.groups; group++) {
      im2col(x, xOffset + groupBase(n, group, g.inChannels, g.groupIn, g.plane), g, cols, 0, plain);
      const outBase = groupBase(n, group, g.outChannels, groupOut, positions);
      const groupWeights = weight.subarray(weightBase(group), weightBase(group + 1));
      gemm(
        groupWeights,
        cols,
        out.subarray(outBase, outBase + groupOut * positions),
        groupOut,
        patch,
        positions,
      );
    }
  }
  return out;
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
  const dx = allocateLike(dy, g.batch * g.inChannels * g.plane);
  const columnGradient = columnGradientOf(dy, weight, wOffset, g);
  for (let n = 0; n < g.batch; n++) {
    for (let group = 0; group < g.groups; group++) {
      const dcols = columnGradient(
        group,
        dyOffset + groupBase(n, group, g.outChannels, g.groupOut, g.positions),
      );
      col2imAdd(dcols, g, dx, groupBase(n, group, g.inChannels, g.groupIn, g.plane));
    }
  }
  return dx;
}

/**
 * The product dcols = Wᵀ · dy for one image and group, as a function of the group and dy's offset;
 * Wᵀ is prepared once: packed for the wasm kernel in float32, else transposed for gemm.
 */
function columnGradientOf(
  dy: FloatArray,
  weight: FloatArray,
  wOffset: number,
  g: ConvGeometry,
): (group: number, dyBase: number) => FloatArray {
  const { positions, patch, groupOut } = g;
  const weightBase = (group: number) => wOffset + group * groupOut * patch;
  if (dy instanceof Float32Array && canUseWasmGemm(patch, groupOut, positions)) {
    const dcols = float32Scratch(patch * positions);
    const transposed = Array.from({ length: g.groups }, (_, group) =>
      packRowPanelsOnce(
        { data: weight, offset: weightBase(group), rowStride: 1, colStride: patch },
        patch,
        groupOut,
      ),
    );
    return (group, dyBase) => {
      const dyMatrix = { data: dy, offset: dyBase, rowStride: positions, colStride: 1 };
      wasmGemm(transposed[group], dyMatrix, dcols, patch, groupOut, positions, { accumulate: false });
      return dcols;
    };
  }
  const dcols = allocateLike(dy, patch * positions);
  const transposed = Array.from({ length: g.groups }, (_, group) => {
    const matrix = allocateLike(dy, patch * groupOut);
    for (let o = 0; o < groupOut; o++) {
      for (let p = 0; p < patch; p++) matrix[p * groupOut + o] = weight[weightBase(group) + o * patch + p];
    }
    return matrix;
  });
  return (group, dyBase) => {
    dcols.fill(0);
    gemm(
      transposed[group],
      dy.subarray(dyBase, dyBase + groupOut * positions),
      dcols,
      patch,
      groupOut,
      positions,
    );
    return dcols;
  };
}

/** Packed float32 operands of images per weight-gradient product (measured: 1 MB beats 128 KB and 8 MB by 5-8 %). */
const WEIGHT_GRAD_CHUNK_BYTES = 1024 * 1024;

/**
 * Packs dy of `images` images, `imageStride` apart from `first`, as the A panels of a weight-gradient
 * product: row o is output channel o, and image i's position q is depth i·positions + q. A plain
 * function rather than a closure: V8 runs this loop several times slower reading captured variables.
 */
function packDyPanels(
  memory: Float32Array,
  start: number,
  dy: Float32Array,
  first: number,
  imageStride: number,
  rows: number,
  images: number,
  positions: number,
): void {
  const depth = images * positions;
  for (let o = 0; o < rows; o++) {
    const panel = start + Math.floor(o / ROWS) * depth * ROWS + (o % ROWS);
    for (let i = 0; i < images; i++) {
      const from = first + i * imageStride + o * positions;
      const to = panel + i * positions * ROWS;
      for (let q = 0; q < positions; q++) memory[to + q * ROWS] = dy[from + q];
    }
  }
}

/**
 * dL/dW = Σ_n dy[n] (groupOut × outH·outW) · cols[n]ᵀ (outH·outW × patch), per group. Returns
 * (O, C/groups, KH, KW). In float32 several images make one product of depth images·outH·outW,
 * their dy and transposed im2col packed straight into the wasm kernel's panels; elsewhere one
 * product per image, the transposed im2col built directly so gemm reads it row-major.
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
  const { positions, patch, groupOut } = g;
  const groupSize = groupOut * patch;
  const bytesPerImage = 4 * positions * (patch + groupOut + COLUMNS + ROWS);
  const chunk = Math.max(1, Math.min(g.batch, Math.floor(WEIGHT_GRAD_CHUNK_BYTES / bytesPerImage)));
  if (
    x instanceof Float32Array &&
    dy instanceof Float32Array &&
    canUseWasmGemm(groupOut, chunk * positions, patch)
  ) {
    const dw = new Float32Array(g.outChannels * patch);
    for (let n0 = 0; n0 < g.batch; n0 += chunk) {
      const images = Math.min(chunk, g.batch - n0);
      const depth = images * positions;
      // cols[n]ᵀ as B: patch row r is column r of the product, image i's position q is depth i·positions + q.
      const packed = columnLayout(
        g,
        (r) => Math.floor(r / COLUMNS) * depth * COLUMNS + (r % COLUMNS),
        (q) => q * COLUMNS,
      );
      for (let group = 0; group < g.groups; group++) {
        const firstDy = dyOffset + groupBase(n0, group, g.outChannels, groupOut, positions);
        const packDy: PackOperand = (memory, start) =>
          packDyPanels(memory, start, dy, firstDy, g.outChannels * positions, groupOut, images, positions);
        const packCols: PackOperand = (memory, start) => {
          for (let i = 0; i < images; i++) {
            const imageBase = xOffset + groupBase(n0 + i, group, g.inChannels, g.groupIn, g.plane);
            im2col(x, imageBase, g, memory, start + i * positions * COLUMNS, packed);
          }
        };
        wasmGemm(
          packDy,
          packCols,
          dw.subarray(group * groupSize, (group + 1) * groupSize),
          groupOut,
          depth,
          patch,
        );
      }
    }
    return dw;
  }
  const dw = allocateLike(x, g.outChannels * patch);
  const colsT = allocateLike(x, positions * patch);
  const transposed = columnLayout(
    g,
    (r) => r,
    (q) => q * patch,
  );
  for (let n = 0; n < g.batch; n++) {
    for (let group = 0; group < g.groups; group++) {
      im2col(x, xOffset + groupBase(n, group, g.inChannels, g.groupIn, g.plane), g, colsT, 0, transposed);
      const dyBase = dyOffset + groupBase(n, group, g.outChannels, groupOut, positions);
      const dyMatrix = dy.subarray(dyBase, dyBase + groupOut * positions);
      gemm(
        dyMatrix,
        colsT,
        dw.subarray(group * groupSize, (group + 1) * groupSize),
        groupOut,
        positions,
        patch,
      );
    }
  }
  return dw;
}
