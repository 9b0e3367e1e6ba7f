// The CPU backend: typed arrays, strided kernels, a register-blocked matmul. The float64 oracle.
import type {
  AdamStepOptions,
  AdamStepState,
  ArithmeticOp,
  AvgPool2dParams,
  Backend,
  BinaryOp,
  Conv2dParams,
  DeviceBuffer,
  NormBackwardOptions,
  NormForwardOptions,
  NormLayout,
  NormStatistics,
  Padding,
  Pool2dParams,
  ReduceOp,
  SgdStepOptions,
  UnaryOp,
  View,
} from "../backend.ts";
import { allocateTypedArray, type DType, dtypeOfArray, type TypedArray } from "../dtype.ts";
import { contiguousStrides, type Shape, shapeSize } from "../shape.ts";
import { conv2dForward, conv2dInputGrad, conv2dWeightGrad } from "./conv2d.ts";
import { erf } from "./erf.ts";
import { gemm } from "./gemm.ts";
import { normBackward, normForward } from "./norm.ts";
import { adamStep, sgdStep } from "./optimizer.ts";
import { avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward } from "./pool2d.ts";
import { coalesceDims, forEachRow, innerExtent, isContiguous } from "./strided.ts";
import { canUseWasmGemm, type MatrixOperand, wasmGemm } from "./wasm-gemm.ts";

/** A CPU buffer: a typed array owned by the CPU backend. */
export class CpuBuffer implements DeviceBuffer {
  readonly device = "cpu";
  constructor(readonly data: TypedArray) {}
  get dtype(): DType {
    return dtypeOfArray(this.data);
  }
  get size(): number {
    return this.data.length;
  }
}

/** Narrows a device buffer to a CPU buffer (a buffer from another device here is a frontend bug). */
export function cpuData(buffer: DeviceBuffer): TypedArray {
  if (!(buffer instanceof CpuBuffer)) {
    throw new Error(
      `the CPU backend was given a ${buffer.device} buffer: move the tensor with .to("cpu") first`,
    );
  }
  return buffer.data;
}

function unaryFunction(op: UnaryOp): (x: number) => number {
  switch (op) {
    case "neg":
      return (x) => -x;
    case "exp":
      return Math.exp;
    case "log":
      return Math.log;
    case "sqrt":
      return Math.sqrt;
    case "recip":
      return (x) => 1 / x;
    case "tanh":
      return Math.tanh;
    // Two branches so that exp never overflows: σ(x) = 1/(1+e^−x) = e^x/(1+e^x).
    case "sigmoid":
      return (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
    case "relu":
      return (x) => Math.max(x, 0);
    case "abs":
      return Math.abs;
    case "sign":
      return Math.sign;
    case "erf":
      return erf;
    default:
      return op satisfies never;
  }
}

function binaryFunction(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case "add":
      return (a, b) => a + b;
    case "sub":
      return (a, b) => a - b;
    case "mul":
      return (a, b) => a * b;
    case "div":
      return (a, b) => a / b;
    case "pow":
      return Math.pow;
    // NaN propagates through maximum/minimum, as in PyTorch.
    case "maximum":
      return (a, b) => (a > b || Number.isNaN(a) ? a : b);
    case "minimum":
      return (a, b) => (a < b || Number.isNaN(a) ? a : b);
    case "eq":
      return (a, b) => (a === b ? 1 : 0);
    case "ne":
      return (a, b) => (a !== b ? 1 : 0);
    case "lt":
      return (a, b) => (a < b ? 1 : 0);
    case "le":
      return (a, b) => (a <= b ? 1 : 0);
    case "gt":
      return (a, b) => (a > b ? 1 : 0);
    case "ge":
      return (a, b) => (a >= b ? 1 : 0);
    default:
      return op satisfies never;
  }
}

/** The hot ops get their own loops: one indirect call per element costs ~3x here. */
function binaryRow(
  op: BinaryOp,
  out: TypedArray,
  o: number,
  a: TypedArray,
  ia: number,
  sa: number,
  b: TypedArray,
  ib: number,
  sb: number,
  n: number,
): boolean {
  switch (op) {
    case "add":
      for (let j = 0; j < n; j++) out[o + j] = a[ia + j * sa] + b[ib + j * sb];
      return true;
    case "sub":
      for (let j = 0; j < n; j++) out[o + j] = a[ia + j * sa] - b[ib + j * sb];
      return true;
    case "mul":
      for (let j = 0; j < n; j++) out[o + j] = a[ia + j * sa] * b[ib + j * sb];
      return true;
    case "div":
      for (let j = 0; j < n; j++) out[o + j] = a[ia + j * sa] / b[ib + j * sb];
      return true;
    // ReLU's backward masks with `gt` on every step.
    case "gt":
      for (let j = 0; j < n; j++) out[o + j] = a[ia + j * sa] > b[ib + j * sb] ? 1 : 0;
      return true;
    case "eq":
      for (let j = 0; j < n; j++) out[o + j] = a[ia + j * sa] === b[ib + j * sb] ? 1 : 0;
      return true;
    default:
      return false;
  }
}

function isArithmetic(op: BinaryOp): op is ArithmeticOp {
  return (
    op === "add" ||
    op === "sub" ||
    op === "mul" ||
    op === "div" ||
    op === "pow" ||
    op === "maximum" ||
    op === "minimum"
  );
}

/** Copies a strided view into a contiguous typed array of `dtype` (a cast when dtypes differ). */
function readView(view: View, dtype: DType): TypedArray {
  const source = cpuData(view.buffer);
  const size = shapeSize(view.shape);
  if (isContiguous(view.shape, view.strides) && dtypeOfArray(source) === dtype) {
    return source.slice(view.offset, view.offset + size);
  }
  const out = allocateTypedArray(dtype, size);
  const walk = coalesceDims(view.shape, [view.strides]);
  const [n, s] = innerExtent(walk.shape, walk.strides[0]);
  let o = 0;
  forEachRow(walk.shape, walk.strides, [view.offset], ([base]) => {
    for (let j = 0; j < n; j++) out[o++] = source[base + j * s];
  });
  return out;
}

/** A view's values as a contiguous typed array: a window on its buffer when it already is one (no copy). */
function contiguousData(view: View): TypedArray {
  if (!isContiguous(view.shape, view.strides)) return readView(view, view.buffer.dtype);
  return cpuData(view.buffer).subarray(view.offset, view.offset + shapeSize(view.shape));
}

/** The (row, column) extent and strides of the last two axes and the batch offsets of a view. */
function batchOffsets(view: View): number[] {
  const batchShape = view.shape.slice(0, -2);
  const offsets: number[] = [];
  const batchStrides = view.strides.slice(0, -2);
  forEachRow([...batchShape, 1], [[...batchStrides, 0]], [view.offset], ([base]) => {
    offsets.push(base);
  });
  return offsets;
}

/** Reads a (rows, cols) matrix at `offset` with the given strides into a contiguous array. */
function packMatrix(
  source: TypedArray,
  offset: number,
  rows: number,
  cols: number,
  rowStride: number,
  colStride: number,
): Float64Array | Float32Array {
  // int32 is packed as float64, which holds every int32 exactly (float32 would round above 2²⁴).
  const out = source instanceof Float32Array ? new Float32Array(rows * cols) : new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const base = offset + i * rowStride;
    for (let j = 0; j < cols; j++) out[i * cols + j] = source[base + j * colStride];
  }
  return out;
}

/** The float array of a contiguous view (conv and pool kernels take float32/float64 only). */
function floatData(view: View): Float32Array | Float64Array {
  const data = cpuData(view.buffer);
  if (data instanceof Int32Array) {
    throw new Error("convolution and pooling kernels take float32 or float64 tensors, got int32");
  }
  return data;
}

/** The int32 array of an index view. */
function indexData(view: View): Int32Array {
  const data = cpuData(view.buffer);
  if (!(data instanceof Int32Array))
    throw new Error(`pooling indices must be int32, got ${view.buffer.dtype}`);
  return data;
}

/** The CPU backend. Accumulations (sums, dot products) run in JavaScript doubles. */
export class CpuBackend implements Backend {
  readonly device = "cpu";
  readonly dtypes: readonly DType[] = ["float32", "float64", "int32"];
  readonly readsSynchronously = true;
  #live = 0;

  #wrap(data: TypedArray): CpuBuffer {
    this.#live++;
    return new CpuBuffer(data);
  }

  upload(values: TypedArray): DeviceBuffer {
    return this.#wrap(values.slice());
  }

  full(size: number, value: number, dtype: DType): DeviceBuffer {
    const data = allocateTypedArray(dtype, size);
    if (value !== 0) data.fill(value);
    return this.#wrap(data);
  }

  read(view: View): TypedArray {
    return readView(view, view.buffer.dtype);
  }

  readAsync(view: View): Promise<TypedArray> {
    return Promise.resolve(this.read(view));
  }

  release(_buffer: DeviceBuffer): void {
    this.#live--;
  }

  liveBuffers(): number {
    return this.#live;
  }

  writeInto(target: DeviceBuffer, source: DeviceBuffer): void {
    cpuData(target).set(cpuData(source));
  }

  unary(op: UnaryOp, x: View, dtype: DType): DeviceBuffer {
    const source = cpuData(x.buffer);
    const out = allocateTypedArray(dtype, shapeSize(x.shape));
    const walk = coalesceDims(x.shape, [x.strides]);
    const [n, s] = innerExtent(walk.shape, walk.strides[0]);
    let o = 0;
    if (op === "relu") {
      forEachRow(walk.shape, walk.strides, [x.offset], ([base]) => {
        for (let j = 0; j < n; j++, o++) {
          const value = source[base + j * s];
          out[o] = Math.max(value, 0);
        }
      });
    } else {
      const f = unaryFunction(op);
      forEachRow(walk.shape, walk.strides, [x.offset], ([base]) => {
        for (let j = 0; j < n; j++) out[o++] = f(source[base + j * s]);
      });
    }
    return this.#wrap(out);
  }

  binary(op: BinaryOp, a: View, b: View, dtype: DType): DeviceBuffer {
    const da = cpuData(a.buffer);
    const db = cpuData(b.buffer);
    const out = allocateTypedArray(isArithmetic(op) ? dtype : "int32", shapeSize(a.shape));
    const walk = coalesceDims(a.shape, [a.strides, b.strides]);
    const [n, sa] = innerExtent(walk.shape, walk.strides[0]);
    const sb = innerExtent(walk.shape, walk.strides[1])[1];
    const f = binaryFunction(op);
    let o = 0;
    forEachRow(walk.shape, walk.strides, [a.offset, b.offset], ([ia, ib]) => {
      if (!binaryRow(op, out, o, da, ia, sa, db, ib, sb, n)) {
        for (let j = 0; j < n; j++) out[o + j] = f(da[ia + j * sa], db[ib + j * sb]);
      }
      o += n;
    });
    return this.#wrap(out);
  }

  where(condition: View, a: View, b: View, dtype: DType): DeviceBuffer {
    const dc = cpuData(condition.buffer);
    const da = cpuData(a.buffer);
    const db = cpuData(b.buffer);
    const out = allocateTypedArray(dtype, shapeSize(a.shape));
    const walk = coalesceDims(a.shape, [condition.strides, a.strides, b.strides]);
    const [n, sc] = innerExtent(walk.shape, walk.strides[0]);
    const sa = innerExtent(walk.shape, walk.strides[1])[1];
    const sb = innerExtent(walk.shape, walk.strides[2])[1];
    let o = 0;
    forEachRow(walk.shape, walk.strides, [condition.offset, a.offset, b.offset], ([ic, ia, ib]) => {
      for (let j = 0; j < n; j++) out[o++] = dc[ic + j * sc] !== 0 ? da[ia + j * sa] : db[ib + j * sb];
    });
    return this.#wrap(out);
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[]): DeviceBuffer {
    const source = cpuData(x.buffer);
    // Walk kept axes outside and reduced axes inside, so each output is one strided sweep.
    const kept = x.shape.map((_, axis) => axis).filter((axis) => !axes.includes(axis));
    const keptShape = kept.map((axis) => x.shape[axis]);
    const reducedShape = axes.map((axis) => x.shape[axis]);
    const reducedStrides = axes.map((axis) => x.strides[axis]);
    const outSize = shapeSize(keptShape);
    const isArg = op === "argmax" || op === "argmin";
    const out = allocateTypedArray(isArg ? "int32" : x.buffer.dtype, outSize);
    const [n, s] = innerExtent(reducedShape, reducedStrides);
    let o = 0;
    forEachRow(
      [...keptShape, 1],
      [[...kept.map((axis) => x.strides[axis]), 0]],
      [x.offset],
      ([outerBase]) => {
        let accumulator = op === "sum" ? 0 : op === "max" || op === "argmax" ? -Infinity : Infinity;
        let best = 0;
        let position = 0;
        forEachRow(reducedShape, [reducedStrides], [outerBase], ([base]) => {
          switch (op) {
            case "sum":
              for (let j = 0; j < n; j++) accumulator += source[base + j * s];
              break;
            case "max":
              for (let j = 0; j < n; j++) {
                const value = source[base + j * s];
                if (value > accumulator || Number.isNaN(value)) accumulator = value;
              }
              break;
            case "min":
              for (let j = 0; j < n; j++) {
                const value = source[base + j * s];
                if (value < accumulator || Number.isNaN(value)) accumulator = value;
              }
              break;
            // The first extreme wins on ties, as in PyTorch.
            case "argmax":
            case "argmin":
              for (let j = 0; j < n; j++, position++) {
                const value = source[base + j * s];
                const better = op === "argmax" ? value > accumulator : value < accumulator;
                // NaN counts as the extreme, as in PyTorch.
                const nanWins = Number.isNaN(value) && !Number.isNaN(accumulator);
                if (position === 0 || better || nanWins) {
                  accumulator = value;
                  best = position;
                }
              }
              break;
            default:
              op satisfies never;
          }
        });
        out[o++] = isArg ? best : accumulator;
      },
    );
    return this.#wrap(out);
  }

  matmul(a: View, b: View, dtype: DType): DeviceBuffer {
    const rank = a.shape.length;
    const [m, k] = [a.shape[rank - 2], a.shape[rank - 1]];
    const n = b.shape[rank - 1];
    const da = cpuData(a.buffer);
    const db = cpuData(b.buffer);
    const aOffsets = batchOffsets(a);
    const bOffsets = batchOffsets(b);
    if (dtype === "float32" && canUseWasmGemm(m, k, n)) {
      // The wasm kernel packs each operand straight from its strided view and adds into `out`.
      const out = new Float32Array(aOffsets.length * m * n);
      const operand = (view: View, data: TypedArray, offset: number): MatrixOperand => ({
        data,
        offset,
        rowStride: view.strides[rank - 2],
        colStride: view.strides[rank - 1],
      });
      for (let batch = 0; batch < aOffsets.length; batch++) {
        const product = out.subarray(batch * m * n, (batch + 1) * m * n);
        wasmGemm(operand(a, da, aOffsets[batch]), operand(b, db, bOffsets[batch]), product, m, k, n);
      }
      return this.#wrap(out);
    }
    const out = allocateTypedArray(dtype, aOffsets.length * m * n);
    const accumulator = dtype === "float32" ? new Float32Array(m * n) : new Float64Array(m * n);
    for (let batch = 0; batch < aOffsets.length; batch++) {
      const left = packMatrix(da, aOffsets[batch], m, k, a.strides[rank - 2], a.strides[rank - 1]);
      const right = packMatrix(db, bOffsets[batch], k, n, b.strides[rank - 2], b.strides[rank - 1]);
      accumulator.fill(0);
      gemm(left, right, accumulator, m, k, n);
      out.set(accumulator, batch * m * n);
    }
    return this.#wrap(out);
  }

  copy(x: View, dtype: DType): DeviceBuffer {
    return this.#wrap(readView(x, dtype));
  }

  pad(x: View, padding: Padding, value: number): DeviceBuffer {
    const outShape = x.shape.map((dim, axis) => dim + padding[axis][0] + padding[axis][1]);
    const out = allocateTypedArray(x.buffer.dtype, shapeSize(outShape));
    if (value !== 0) out.fill(value);
    const outStrides = contiguousStrides(outShape);
    const start = padding.reduce((sum, [before], axis) => sum + before * outStrides[axis], 0);
    this.#scatterView(x, out, start, outStrides.slice(0, x.shape.length));
    return this.#wrap(out);
  }

  cat(xs: readonly View[], axis: number, dtype: DType): DeviceBuffer {
    const outShape = xs[0].shape.slice();
    outShape[axis] = xs.reduce((sum, x) => sum + x.shape[axis], 0);
    const out = allocateTypedArray(dtype, shapeSize(outShape));
    const outStrides = contiguousStrides(outShape);
    let start = 0;
    for (const x of xs) {
      this.#scatterView(x, out, start * outStrides[axis], outStrides);
      start += x.shape[axis];
    }
    return this.#wrap(out);
  }

  /** Writes every element of `x` into `out` at `start + Σ index·outStrides`. */
  #scatterView(x: View, out: TypedArray, start: number, outStrides: readonly number[]): void {
    const source = cpuData(x.buffer);
    const [n, s] = innerExtent(x.shape, x.strides);
    const so = innerExtent(x.shape, outStrides)[1];
    forEachRow(x.shape, [x.strides, outStrides], [x.offset, start], ([base, outBase]) => {
      for (let j = 0; j < n; j++) out[outBase + j * so] = source[base + j * s];
    });
  }

  gather(x: View, axis: number, index: View): DeviceBuffer {
    const source = cpuData(x.buffer);
    const indices = cpuData(index.buffer);
    const out = allocateTypedArray(x.buffer.dtype, shapeSize(index.shape));
    // Walk the index; x is addressed with the same coordinates except along `axis`.
    const xStrides = x.strides.map((stride, d) => (d === axis ? 0 : stride));
    const [n, si] = innerExtent(index.shape, index.strides);
    const sx = innerExtent(index.shape, xStrides)[1];
    const axisStride = x.strides[axis];
    let o = 0;
    forEachRow(index.shape, [index.strides, xStrides], [index.offset, x.offset], ([ib, xb]) => {
      for (let j = 0; j < n; j++) {
        const position = indices[ib + j * si];
        out[o++] = source[xb + j * sx + position * axisStride];
      }
    });
    return this.#wrap(out);
  }

  scatterAdd(source: View, axis: number, index: View, shape: Shape): DeviceBuffer {
    const values = cpuData(source.buffer);
    const indices = cpuData(index.buffer);
    const out = allocateTypedArray(source.buffer.dtype, shapeSize(shape));
    const outStrides = contiguousStrides(shape);
    const walkStrides = outStrides.map((stride, d) => (d === axis ? 0 : stride));
    const [n, si] = innerExtent(index.shape, index.strides);
    const ss = innerExtent(source.shape, source.strides)[1];
    const so = innerExtent(index.shape, walkStrides)[1];
    forEachRow(
      index.shape,
      [index.strides, source.strides, walkStrides],
      [index.offset, source.offset, 0],
      ([ib, sb, ob]) => {
        for (let j = 0; j < n; j++) {
          const position = indices[ib + j * si];
          out[ob + j * so + position * outStrides[axis]] += values[sb + j * ss];
        }
      },
    );
    return this.#wrap(out);
  }

  normForward(
    x: View,
    layout: NormLayout,
    weight: View | null,
    bias: View | null,
    { eps, statistics }: NormForwardOptions,
  ): { output: DeviceBuffer; statistics: NormStatistics<DeviceBuffer> | null } {
    const given = statistics && {
      mean: contiguousData(statistics.mean),
      variance: contiguousData(statistics.variance),
    };
    const result = normForward(
      contiguousData(x),
      layout,
      weight && contiguousData(weight),
      bias && contiguousData(bias),
      eps,
      given,
    );
    return {
      output: this.#wrap(result.output),
      statistics: result.statistics && {
        mean: this.#wrap(result.statistics.mean),
        variance: this.#wrap(result.statistics.variance),
      },
    };
  }

  normBackward(
    dy: View,
    x: View,
    layout: NormLayout,
    weight: View | null,
    statistics: NormStatistics<View>,
    options: NormBackwardOptions,
  ): { dx: DeviceBuffer | null; dweight: DeviceBuffer | null; dbias: DeviceBuffer | null } {
    const { dx, dweight, dbias } = normBackward(
      contiguousData(dy),
      contiguousData(x),
      layout,
      weight && contiguousData(weight),
      { mean: contiguousData(statistics.mean), variance: contiguousData(statistics.variance) },
      options,
    );
    const wrap = (data: TypedArray | null) => data && this.#wrap(data);
    return { dx: wrap(dx), dweight: wrap(dweight), dbias: wrap(dbias) };
  }

  sgdStep(
    param: DeviceBuffer,
    grad: View,
    momentumBuffer: DeviceBuffer | null,
    options: SgdStepOptions,
  ): void {
    sgdStep(cpuData(param), contiguousData(grad), momentumBuffer && cpuData(momentumBuffer), options);
  }

  adamStep(param: DeviceBuffer, grad: View, state: AdamStepState, options: AdamStepOptions): void {
    const moments = {
      expAvg: cpuData(state.expAvg),
      expAvgSq: cpuData(state.expAvgSq),
      maxExpAvgSq: state.maxExpAvgSq && cpuData(state.maxExpAvgSq),
    };
    adamStep(cpuData(param), contiguousData(grad), moments, options);
  }

  conv2d(x: View, weight: View, params: Conv2dParams): DeviceBuffer {
    return this.#wrap(
      conv2dForward(floatData(x), x.offset, x.shape, floatData(weight), weight.offset, weight.shape, params),
    );
  }

  conv2dInputGrad(dy: View, weight: View, inputShape: Shape, params: Conv2dParams): DeviceBuffer {
    return this.#wrap(
      conv2dInputGrad(
        floatData(dy),
        dy.offset,
        floatData(weight),
        weight.offset,
        inputShape,
        weight.shape,
        params,
      ),
    );
  }

  conv2dWeightGrad(x: View, dy: View, weightShape: Shape, params: Conv2dParams): DeviceBuffer {
    return this.#wrap(
      conv2dWeightGrad(floatData(x), x.offset, floatData(dy), dy.offset, x.shape, weightShape, params),
    );
  }

  maxPool2d(x: View, params: Pool2dParams): { values: DeviceBuffer; indices: DeviceBuffer } {
    const { values, indices } = maxPool2dForward(floatData(x), x.offset, x.shape, params);
    return { values: this.#wrap(values), indices: this.#wrap(indices) };
  }

  maxPool2dBackward(dy: View, indices: View, inputShape: Shape): DeviceBuffer {
    const outputPlane = dy.shape[2] * dy.shape[3];
    return this.#wrap(
      maxPool2dBackward(
        floatData(dy),
        dy.offset,
        indexData(indices),
        indices.offset,
        outputPlane,
        inputShape,
      ),
    );
  }

  avgPool2d(x: View, params: AvgPool2dParams): DeviceBuffer {
    return this.#wrap(avgPool2dForward(floatData(x), x.offset, x.shape, params));
  }

  avgPool2dBackward(dy: View, inputShape: Shape, params: AvgPool2dParams): DeviceBuffer {
    return this.#wrap(avgPool2dBackward(floatData(dy), dy.offset, inputShape, params));
  }
}
