// The CPU backend: storage (typed arrays, a live count) and one-line delegations to the kernel families in this folder.
import type {
  AdamStepOptions,
  AdamStepState,
  AvgPool2dParams,
  Backend,
  BinaryOp,
  Conv2dKernelParams,
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
import { type DType, dtypeOfArray, type TypedArray } from "../dtype.ts";
import { type Shape, shapeSize } from "../shape.ts";
import { recycleArray, takeArray } from "./buffer-pool.ts";
import { conv2dForward, conv2dInputGrad, conv2dWeightGrad } from "./conv2d.ts";
import { CpuBuffer, cpuData } from "./cpu-buffer.ts";
import { binary, copy, unary, where } from "./elementwise.ts";
import { matmul } from "./matmul.ts";
import { cat, gather, pad, scatterAdd } from "./movement.ts";
import { normBackward, normForward, updateRunningStatistics } from "./norm.ts";
import { adamStep, sgdStep } from "./optimizer.ts";
import { avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward } from "./pool2d.ts";
import { reduce } from "./reduce.ts";
import { isContiguous } from "./strided.ts";

/** A view's values as a contiguous typed array: a window on its buffer when it already is one (no copy). */
function contiguousData(view: View): TypedArray {
  if (!isContiguous(view.shape, view.strides)) return copy(view, view.buffer.dtype);
  return cpuData(view.buffer).subarray(view.offset, view.offset + shapeSize(view.shape));
}

/** The float array of a contiguous view (conv and pool kernels take float32/float64 only). */
function floatData(view: View): Float32Array | Float64Array {
  const data = cpuData(view.buffer);
  if (data instanceof Int32Array || data instanceof Uint8Array) {
    throw new Error(
      `convolution and pooling kernels take float32 or float64 tensors, got ${dtypeOfArray(data)}`,
    );
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
  readonly dtypes: readonly DType[] = ["float32", "float64", "int32", "bool"];
  readonly readsSynchronously = true;
  readonly releasesGradientsEagerly = true;
  #live = 0;

  #wrap(data: TypedArray): CpuBuffer {
    this.#live++;
    return new CpuBuffer(data);
  }

  upload(values: TypedArray): DeviceBuffer {
    return this.#wrap(values.slice());
  }

  full(size: number, value: number, dtype: DType): DeviceBuffer {
    const data = takeArray(dtype, size, value !== 0);
    if (value !== 0) data.fill(dtype === "bool" ? 1 : value);
    return this.#wrap(data);
  }

  read(view: View): TypedArray {
    return copy(view, view.buffer.dtype);
  }

  readAsync(view: View): Promise<TypedArray> {
    return Promise.resolve(this.read(view));
  }

  release(buffer: DeviceBuffer): void {
    this.#live--;
    recycleArray(cpuData(buffer));
  }

  liveBuffers(): number {
    return this.#live;
  }

  writeInto(target: DeviceBuffer, source: DeviceBuffer): void {
    cpuData(target).set(cpuData(source));
  }

  unary(op: UnaryOp, x: View, dtype: DType): DeviceBuffer {
    return this.#wrap(unary(op, x, dtype));
  }

  binary(op: BinaryOp, a: View, b: View, dtype: DType): DeviceBuffer {
    return this.#wrap(binary(op, a, b, dtype));
  }

  where(condition: View, a: View, b: View, dtype: DType): DeviceBuffer {
    return this.#wrap(where(condition, a, b, dtype));
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[]): DeviceBuffer {
    return this.#wrap(reduce(op, x, axes));
  }

  matmul(a: View, b: View, dtype: DType): DeviceBuffer {
    return this.#wrap(matmul(a, b, dtype));
  }

  copy(x: View, dtype: DType): DeviceBuffer {
    return this.#wrap(copy(x, dtype));
  }

  pad(x: View, padding: Padding, value: number): DeviceBuffer {
    return this.#wrap(pad(x, padding, value));
  }

  cat(xs: readonly View[], axis: number, dtype: DType): DeviceBuffer {
    return this.#wrap(cat(xs, axis, dtype));
  }

  gather(x: View, axis: number, index: View): DeviceBuffer {
    return this.#wrap(gather(x, axis, index));
  }

  scatterAdd(source: View, axis: number, index: View, shape: Shape): DeviceBuffer {
    return this.#wrap(scatterAdd(source, axis, index, shape));
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

  updateRunningStatistics(
    running: NormStatistics<DeviceBuffer>,
    batch: NormStatistics<View>,
    { momentum, varianceScale }: { readonly momentum: number; readonly varianceScale: number },
  ): { next: NormStatistics<Float64Array>; written: boolean } {
    return updateRunningStatistics(
      { mean: cpuData(running.mean), variance: cpuData(running.variance) },
      { mean: contiguousData(batch.mean), variance: contiguousData(batch.variance) },
      momentum,
      varianceScale,
    );
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

  conv2d(x: View, weight: View, params: Conv2dKernelParams): DeviceBuffer {
    return this.#wrap(
      conv2dForward(floatData(x), x.offset, x.shape, floatData(weight), weight.offset, weight.shape, params),
    );
  }

  conv2dInputGrad(dy: View, weight: View, inputShape: Shape, params: Conv2dKernelParams): DeviceBuffer {
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

  conv2dWeightGrad(x: View, dy: View, weightShape: Shape, params: Conv2dKernelParams): DeviceBuffer {
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
