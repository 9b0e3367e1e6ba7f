// The 2-D convolution kernels on the CPU and their two gradients: im2col + gemm, in float32 gathered by wasm straight into the gemm's panels.
import type { Conv2dKernelParams } from "../backend.ts";
import type { Shape } from "../shape.ts";
import { takeFloat32 } from "./buffer-pool.ts";
import { gemm } from "./gemm.ts";
import { canUseWasmGemm, PANEL_COLUMNS, PANEL_ROWS, packRowPanelsOnce, wasmGemm } from "./wasm-gemm.ts";

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
  /** Everything above but the batch, naming the geometry's index tables in {@link cachedTable}. */
  readonly key: string;
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
  const key = [
    inputShape.slice(1),
    weightShape,
    params.stride,
    params.padding,
    params.dilation,
    params.groups,
  ]
    .flat(2)
    .concat(params.outputSize)
    .join(",");
  return { ...geometry, key, sources: cachedTable(`${key} sources`, () => tapSources(geometry)) };
}

/** Index tables by geometry and use: a training step meets the same few convolutions every time. */
const tables = new Map<string, Int32Array>();

/** The table named `key`, built once; the cache is emptied past 64 tables (shapes that keep changing). */
function cachedTable(key: string, build: () => Int32Array): Int32Array {
  const cached = tables.get(key);
  if (cached) return cached;
  if (tables.size >= 64) tables.clear();
  const table = build();
  tables.set(key, table);
  return table;
}

/**
 * For each kernel tap t = ky·KW + kx and output position q = y·outW + x, the offset within a
 * channel plane of the input pixel it reads, (y·sh − pt + ky·dh)·W + (x·sw − pl + kx·dw), or −1
 * where that falls in the padding.
 */
function tapSources(g: Omit<ConvGeometry, "sources" | "key">): Int32Array {
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

/**
 * The im2col of `images` images of one group as an index table: column d = i·positions + q of
 * patch row r = (c, tap) goes to `table[at(r, d)]` and reads input offset
 * i·imageStride + c·plane + sources[tap, q] from the first image's group; −1 where it reads padding,
 * and in the entries `at` never names (a packed operand's padding).
 */
function im2colIndices(
  g: ConvGeometry,
  images: number,
  imageStride: number,
  size: number,
  at: (r: number, d: number) => number,
): Int32Array {
  const { sources, positions, taps, plane } = g;
  const table = new Int32Array(size).fill(-1);
  for (let i = 0; i < images; i++) {
    for (let c = 0; c < g.groupIn; c++) {
      for (let t = 0; t < taps; t++) {
        const r = c * taps + t;
        for (let q = 0; q < positions; q++) {
          const source = sources[t * positions + q];
          if (source >= 0) table[at(r, i * positions + q)] = i * imageStride + c * plane + source;
        }
      }
    }
  }
  return table;
}

/** cols[o] = x[base + table[o]], or 0 where the index is −1: an im2col on the JS path. */
function gatherColumns(cols: FloatArray, x: FloatArray, base: number, table: Int32Array): void {
  for (let o = 0; o < table.length; o++) cols[o] = table[o] < 0 ? 0 : x[base + table[o]];
}

/** dx[base + table[o]] += cols[o] where the index is not −1: the adjoint of {@link gatherColumns} (col2im). */
function scatterColumns(cols: FloatArray, dx: FloatArray, base: number, table: Int32Array): void {
  for (let o = 0; o < table.length; o++) if (table[o] >= 0) dx[base + table[o]] += cols[o];
}

/** A zeroed array of `like`'s type; float32 ones come from the pool (fresh memory page-faults at first touch). */
function allocateLike(like: FloatArray, size: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(size) : takeFloat32(size).fill(0);
}

/** Offset of image n's group `group` in an NCHW array with `channels` channels of `plane` elements, `perGroup` per group. */
function groupBase(n: number, group: number, channels: number, perGroup: number, plane: number): number {
  return (n * channels + group * perGroup) * plane;
}

/**
 * y[n, o] = Σ_c W[o, c] ⋆ x[n, c] per group: for each image and group, im2col then one gemm
 * (groupOut × patch) · (patch × outH·outW). `x` (N, C, H, W) and `weight` (O, C/groups, KH, KW)
 * are contiguous from `xOffset`/`wOffset`; returns (N, O, OH, OW). In float32 the wasm kernel
 * gathers the im2col straight into its packed B through one index table per call, and the
 * weights are packed once per call.
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
  const imageBase = (n: number, group: number) =>
    xOffset + groupBase(n, group, g.inChannels, g.groupIn, g.plane);
  if (x instanceof Float32Array && canUseWasmGemm(groupOut, patch, positions)) {
    const out = takeFloat32(size); // every element is written
    const paddedPositions = Math.ceil(positions / COLUMNS) * COLUMNS;
    // cols as the packed B: position q is column q, patch row r is depth r.
    const indices = cachedTable(`${g.key} forward`, () =>
      im2colIndices(
        g,
        1,
        0,
        patch * paddedPositions,
        (r, q) => (Math.floor(q / COLUMNS) * patch + r) * COLUMNS + (q % COLUMNS),
      ),
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
        const source = x.subarray(imageBase(n, group), imageBase(n, group) + g.groupIn * g.plane);
        const outBase = groupBase(n, group, g.outChannels, groupOut, positions);
        const y = out.subarray(outBase, outBase + groupOut * positions);
        wasmGemm(weights[group], { source, indices }, y, groupOut, patch, positions, { accumulate: false });
      }
    }
    return out;
  }
  const out = allocateLike(x, size);
  const cols = allocateLike(x, patch * positions);
  const plain = cachedTable(`${g.key} plain`, () =>
    im2colIndices(g, 1, 0, patch * positions, (r, q) => r * positions + q),
  );
  for (let n = 0; n < g.batch; n++) {
    for (let group = 0; group < g.groups; group++) {
      gatherColumns(cols, x, imageBase(n, group), plain);
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
 * col2im adds each column back onto the pixels it came from. Returns (N, C, H, W). In float32 the
 * wasm kernel does the col2im too, scattering C through an index table; Wᵀ is packed once per call.
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
  const { positions, patch, groupOut } = g;
  const size = g.batch * g.inChannels * g.plane;
  const weightBase = (group: number) => wOffset + group * groupOut * patch;
  const dyBase = (n: number, group: number) =>
    dyOffset + groupBase(n, group, g.outChannels, groupOut, positions);
  const dxBase = (n: number, group: number) => groupBase(n, group, g.inChannels, g.groupIn, g.plane);
  if (dy instanceof Float32Array && canUseWasmGemm(patch, groupOut, positions)) {
    const dx = takeFloat32(size).fill(0);
    const transposed = Array.from({ length: g.groups }, (_, group) =>
      packRowPanelsOnce(
        { data: weight, offset: weightBase(group), rowStride: 1, colStride: patch },
        patch,
        groupOut,
      ),
    );
    const paddedPositions = Math.ceil(positions / COLUMNS) * COLUMNS;
    const indices = cachedTable(`${g.key} input gradient`, () =>
      im2colIndices(g, 1, 0, patch * paddedPositions, (r, q) => r * paddedPositions + q),
    );
    // dy as the packed B (gathered: the JS packer is slower); dy's row o is depth o.
    const dyIndices = cachedTable(`${g.key} input gradient dy`, () => {
      const table = new Int32Array(groupOut * paddedPositions).fill(-1);
      for (let o = 0; o < groupOut; o++) {
        for (let q = 0; q < positions; q++) {
          table[(Math.floor(q / COLUMNS) * groupOut + o) * COLUMNS + (q % COLUMNS)] = o * positions + q;
        }
      }
      return table;
    });
    for (let n = 0; n < g.batch; n++) {
      for (let group = 0; group < g.groups; group++) {
        const dySource = dy.subarray(dyBase(n, group), dyBase(n, group) + groupOut * positions);
        const dyMatrix = { source: dySource, indices: dyIndices };
        const target = dx.subarray(dxBase(n, group), dxBase(n, group) + g.groupIn * g.plane);
        wasmGemm(transposed[group], dyMatrix, { target, indices }, patch, groupOut, positions);
      }
    }
    return dx;
  }
  const dx = allocateLike(dy, size);
  const dcols = allocateLike(dy, patch * positions);
  const transposed = Array.from({ length: g.groups }, (_, group) => {
    const matrix = allocateLike(dy, patch * groupOut);
    for (let o = 0; o < groupOut; o++) {
      for (let p = 0; p < patch; p++) matrix[p * groupOut + o] = weight[weightBase(group) + o * patch + p];
    }
    return matrix;
  });
  const plain = cachedTable(`${g.key} plain`, () =>
    im2colIndices(g, 1, 0, patch * positions, (r, q) => r * positions + q),
  );
  for (let n = 0; n < g.batch; n++) {
    for (let group = 0; group < g.groups; group++) {
      dcols.fill(0);
      const dyMatrix = dy.subarray(dyBase(n, group), dyBase(n, group) + groupOut * positions);
      gemm(transposed[group], dyMatrix, dcols, patch, groupOut, positions);
      scatterColumns(dcols, dx, dxBase(n, group), plain);
    }
  }
  return dx;
}

/**
 * Bytes of packed operands, index table and input per weight-gradient product: 128-512 KB measured
 * fastest (one image per product on W5's layers), 1 MB 10 % and 8 MB 2.5× slower.
 */
const WEIGHT_GRAD_CHUNK_BYTES = 256 * 1024;

/**
 * dL/dW = Σ_n dy[n] (groupOut × outH·outW) · cols[n]ᵀ (outH·outW × patch), per group. Returns
 * (O, C/groups, KH, KW). In float32 several images make one product of depth images·outH·outW:
 * their dy packed into the wasm kernel's A panels, their transposed im2col gathered into its B
 * panels; elsewhere one product per image, the transposed im2col built so gemm reads it row-major.
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
  const imageBase = (n: number, group: number) =>
    xOffset + groupBase(n, group, g.inChannels, g.groupIn, g.plane);
  const paddedPatch = Math.ceil(patch / COLUMNS) * COLUMNS;
  const paddedOut = Math.ceil(groupOut / ROWS) * ROWS;
  // Per image: packed A and B, their index tables, and the staged dy and input.
  const bytesPerImage = 4 * (positions * (2 * paddedOut + 2 * paddedPatch + groupOut) + g.groupIn * g.plane);
  const chunk = Math.max(1, Math.min(g.batch, Math.floor(WEIGHT_GRAD_CHUNK_BYTES / bytesPerImage)));
  if (
    x instanceof Float32Array &&
    dy instanceof Float32Array &&
    canUseWasmGemm(groupOut, chunk * positions, patch)
  ) {
    const dw = new Float32Array(g.outChannels * patch);
    const imageStride = g.inChannels * g.plane;
    const dyStride = g.outChannels * positions;
    // Per product size: dy as the packed A (row o is output channel o, image i's position q is
    // depth i·positions + q) and cols[n]ᵀ as the packed B (patch row r is column r), as index tables.
    const dyTable = (images: number) => {
      const depth = images * positions;
      const table = new Int32Array(paddedOut * depth).fill(-1);
      for (let i = 0; i < images; i++) {
        for (let o = 0; o < groupOut; o++) {
          const row = (Math.floor(o / ROWS) * depth + i * positions) * ROWS + (o % ROWS);
          for (let q = 0; q < positions; q++) table[row + q * ROWS] = i * dyStride + o * positions + q;
        }
      }
      return table;
    };
    const colTable = (images: number) => {
      const depth = images * positions;
      const at = (r: number, d: number) => (Math.floor(r / COLUMNS) * depth + d) * COLUMNS + (r % COLUMNS);
      return im2colIndices(g, images, imageStride, depth * paddedPatch, at);
    };
    for (let n0 = 0; n0 < g.batch; n0 += chunk) {
      const images = Math.min(chunk, g.batch - n0);
      const dyIndices = cachedTable(`${g.key} weight gradient dy ${images}`, () => dyTable(images));
      const colIndices = cachedTable(`${g.key} weight gradient cols ${images}`, () => colTable(images));
      for (let group = 0; group < g.groups; group++) {
        const firstDy = dyOffset + groupBase(n0, group, g.outChannels, groupOut, positions);
        const dySource = dy.subarray(firstDy, firstDy + (images - 1) * dyStride + groupOut * positions);
        const first = imageBase(n0, group);
        const xSource = x.subarray(first, first + (images - 1) * imageStride + g.groupIn * g.plane);
        const dwGroup = dw.subarray(group * groupSize, (group + 1) * groupSize);
        const dyPanels = { source: dySource, indices: dyIndices };
        wasmGemm(
          dyPanels,
          { source: xSource, indices: colIndices },
          dwGroup,
          groupOut,
          images * positions,
          patch,
        );
      }
    }
    return dw;
  }
  const dw = allocateLike(x, g.outChannels * patch);
  const colsT = allocateLike(x, positions * patch);
  const transposed = cachedTable(`${g.key} transposed`, () =>
    im2colIndices(g, 1, 0, positions * patch, (r, q) => q * patch + r),
  );
  for (let n = 0; n < g.batch; n++) {
    for (let group = 0; group < g.groups; group++) {
      gatherColumns(colsT, x, imageBase(n, group), transposed);
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
