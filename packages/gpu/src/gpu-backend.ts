// The GPU.js backend: normgrad's Backend interface on GPU.js kernels, in whichever mode starts here.
import {
  type AdamStepOptions,
  type AdamStepState,
  type AvgPool2dParams,
  type Backend,
  type BinaryOp,
  type Conv2dKernelParams,
  type CrossEntropyKernelOptions,
  contiguousStrides,
  type DeviceBuffer,
  type DType,
  type NormBackwardOptions,
  type NormForwardOptions,
  type NormLayout,
  type NormStatistics,
  normBlocks,
  type Padding,
  type Pool2dParams,
  type ReduceOp,
  type SgdStepOptions,
  type Shape,
  shapeSize,
  type TypedArray,
  type UnaryOp,
  type View,
} from "@normgrad/core";
import { GpuBuffer, isDeviceHandle, type Resident } from "./gpu-buffer.ts";
import { assertSize, KernelRunner, MAX_ELEMENTS, type OutputGrid } from "./kernel-runner.ts";
import { KernelSource, planeGrid } from "./kernel-source.ts";
import {
  conv2dInputGradSource,
  conv2dSource,
  conv2dWeightGradSource,
  convGeometry,
} from "./kernels/conv2d.ts";
import {
  crossEntropyGradSource,
  crossEntropyLossSource,
  crossEntropyRowsSource,
} from "./kernels/cross-entropy.ts";
import {
  binarySource,
  copySource,
  fillSource,
  type Operand,
  unarySource,
  whereSource,
} from "./kernels/elementwise.ts";
import { matmulSource } from "./kernels/matmul.ts";
import { catSource, gatherSource, padSource, scatterAddSource } from "./kernels/movement.ts";
import {
  type Centring,
  NORM_BLOCK,
  type NormSums,
  normChannelSumsSource,
  normGroupSumsSource,
  normInputGradSource,
  normMeanSource,
  normMergeSource,
  normOutputSource,
  normPartialSource,
  runningRefusedSource,
  runningUpdateSource,
} from "./kernels/norm.ts";
import {
  adamMomentSource,
  adamParameterSource,
  elementwiseMaxSource,
  sgdMomentumSource,
  sgdParameterSource,
} from "./kernels/optimizer.ts";
import {
  avgPoolBackwardSource,
  avgPoolSource,
  maxPoolBackwardSource,
  maxPoolIndexSource,
  takeByIndexSource,
} from "./kernels/pool2d.ts";
import { reduceSource } from "./kernels/reduce.ts";
import {
  type ActiveMode,
  autoMode,
  type GpuMode,
  kernelMode,
  modeUnavailableReason,
  webgpuUnavailableReason,
} from "./modes.ts";

/** Options of the GPU backend. */
export interface GpuBackendOptions {
  /** The GPU.js mode (default `auto`: headlessgl or webgl2 where a GL context exists, else webasm). */
  mode?: GpuMode;
  /**
   * webasm only: run kernels on a worker pool (GPU.js's async contract). Results then arrive
   * asynchronously, so values must be read with `await tensor.data()`. Default false.
   */
  threads?: boolean;
  /**
   * GL modes only: compile each kernel per input size as well as per source (default true).
   * GPU.js's `dynamicArguments` makes every texture read compute its coordinates from uniforms:
   * a 512 matmul on llvmpipe took 742 ms with it and 338 ms without. The price is one compile
   * (0.1–0.6 s) per new shape, paid once in a training loop; false shares kernels across shapes.
   */
  specializeInputSizes?: boolean;
}

/** What a GPU backend did since its counters were last reset (see `gpuStats`). */
export interface GpuStats {
  /** GPU→CPU readbacks (`read`/`readAsync`: dataSync, item, `await data()`, checks): each one waits for the device. */
  readonly reads: number;
  /** Host→device transfers and fills (`upload`, `full`): tensors made from host values or scalars. */
  readonly uploads: number;
  /** Compute kernels launched (everything but uploads and fills). */
  readonly launches: number;
}

let warnedFallback = false;

/** Fills of up to this many elements are cached per (dtype, size, value), this many fills at most; see `GpuBackend.full`. */
const CACHED_FILL_SIZE = 4096;
const CACHED_FILLS = 256;

/** webasm copies a row-major matmul b transposed only above this many elements (1 MiB of float32, a core's L2). */
const TRANSPOSE_ABOVE = 2 ** 18;

/** Another reference to a value: kernels never write a result in place, so sharing memory is safe. */
function share(value: Resident): Resident {
  return isDeviceHandle(value) ? value.clone() : value;
}

/** Comparisons return bool masks; everything else computes in the requested dtype. */
function resultDtype(op: BinaryOp, dtype: DType): DType {
  return op === "eq" || op === "ne" || op === "lt" || op === "le" || op === "gt" || op === "ge"
    ? "bool"
    : dtype;
}

/** A read's float32 values in the typed array of the buffer's dtype. */
function typedAs(dtype: DType, values: Float32Array): TypedArray {
  if (dtype === "int32") return Int32Array.from(values);
  return dtype === "bool" ? Uint8Array.from(values, (value) => (value !== 0 ? 1 : 0)) : values;
}

function isContiguousView(view: View): boolean {
  let expected = 1;
  for (let axis = view.shape.length - 1; axis >= 0; axis--) {
    if (view.shape[axis] !== 1 && view.strides[axis] !== expected) return false;
    expected *= view.shape[axis];
  }
  return true;
}

function float64Refused(what: string): TypeError {
  return new TypeError(
    `${what}: the GPU backend computes in float32 only (GPU.js has no float64) and never downcasts ` +
      'silently: keep float64 tensors on the CPU backend (device "cpu"), or convert with .to("float32") first',
  );
}

/**
 * The GPU.js backend. Every buffer holds float32 values (int32 tensors are stored as floats,
 * exact up to 2^24); results stay on the device between kernels and are freed through
 * `dispose`/`tidy`. Kernels are compiled once per distinct source (op, rank, structure), and in
 * the GL modes per input size too; sizes, strides and offsets are kernel arguments.
 */
export class GpuBackend implements Backend {
  readonly device = "gpu";
  readonly dtypes: readonly DType[] = ["float32", "int32", "bool"];
  /** Why `auto` did not get a GL mode, or null. */
  readonly fallbackReason: string | null;
  readonly #runner: KernelRunner;
  #live = 0;
  #stats = { reads: 0, uploads: 0, launches: 0 };
  /** Cached fills (see `full`), freed with the backend. */
  readonly #fills = new Map<string, GpuBuffer>();
  readonly #probe: GpuBuffer;

  constructor({ mode = "auto", threads = false, specializeInputSizes = true }: GpuBackendOptions = {}) {
    let requested: Exclude<GpuMode, "auto">;
    if (mode === "auto") {
      const chosen = autoMode();
      requested = chosen.mode;
      this.fallbackReason = chosen.fallbackReason;
      if (chosen.fallbackReason !== null && !warnedFallback) {
        warnedFallback = true;
        console.warn(
          `@normgrad/gpu: no GL context (${chosen.fallbackReason}); running GPU.js in webasm mode`,
        );
      }
    } else {
      const reason = modeUnavailableReason(mode);
      if (reason !== null) throw new Error(`GPU.js mode "${mode}" cannot start here: ${reason}`);
      requested = mode;
      this.fallbackReason = null;
    }
    if (threads && requested !== "webasm") {
      throw new RangeError(`threads: true is a webasm option, but the mode is ${requested}`);
    }
    this.#runner = new KernelRunner(requested, { threads, specializeInputSizes });
    // One tiny kernel now: it proves the mode starts and tells which kernel class runs.
    this.#probe = new GpuBuffer("float32", 1, this.#runner.run(fillSource(0), 1));
  }

  /** The mode asked of GPU.js (auto resolved). */
  get requestedMode(): Exclude<GpuMode, "auto"> {
    return this.#runner.mode;
  }

  /** False in the asynchronous modes, where values can only be read with `await data()`. */
  /** See `Backend.releasesGradientsEagerly`: GPU.js's texture recycling does not survive early releases. */
  readonly releasesGradientsEagerly = false;

  get readsSynchronously(): boolean {
    return !this.#runner.asynchronous;
  }

  /**
   * Resolves once the first kernel ran; rejects if the mode could not start (for webgpu without
   * an adapter, with what to install instead of GPU.js's browser-oriented message).
   */
  async ready(): Promise<void> {
    try {
      await this.#probe.settled();
    } catch (error) {
      const reason = this.#runner.mode === "webgpu" ? await webgpuUnavailableReason() : null;
      if (reason === null) throw error;
      throw new Error(`GPU.js mode "webgpu" cannot start here: ${reason}`, { cause: error });
    }
  }

  /** The mode kernels actually run in, read from the compiled kernel's class. Null before the first kernel ran. */
  get activeMode(): ActiveMode | null {
    const kernel = this.#runner.firstKernel;
    return kernel === null ? null : kernelMode(kernel);
  }

  /** The GPU.js kernel class that ran (e.g. `WebAssemblyKernel`, `HeadlessGLKernel`). Null before the first kernel ran. */
  get kernelClass(): string | null {
    return this.#runner.firstKernel?.constructor.name ?? null;
  }

  /** Distinct kernels compiled so far (each costs 50–600 ms the first time). */
  get compiledKernels(): number {
    return this.#runner.compiledKernels;
  }

  /** Reads, uploads and compute launches since the last `resetStats` (or since the backend started). */
  get stats(): GpuStats {
    return { ...this.#stats };
  }

  /** Sets the counters of `stats` back to zero. */
  resetStats(): void {
    this.#stats = { reads: 0, uploads: 0, launches: 0 };
  }

  /** Frees every kernel and the GPU.js instance (buffers should be disposed first). */
  async destroy(): Promise<void> {
    this.#free(this.#probe);
    for (const fill of this.#fills.values()) this.#free(fill);
    this.#fills.clear();
    await this.#runner.destroy();
  }

  // ---- storage ------------------------------------------------------------------------------

  #wrap(dtype: DType, size: number, value: Resident | Promise<Resident>): GpuBuffer {
    this.#live++;
    return new GpuBuffer(dtype, size, value);
  }

  /** Runs a kernel over `grid` (a number: that many outputs) into a new buffer; no kernel for an empty result. */
  #launch(source: KernelSource, grid: number | OutputGrid, dtype: DType): GpuBuffer {
    this.#live++;
    return this.#run(source, grid, dtype);
  }

  /** `#launch` for an upload or fill: a kernel, but counted as a transfer, not a compute launch. */
  #transfer(source: KernelSource, size: number, dtype: DType): GpuBuffer {
    this.#live++;
    return this.#run(source, size, dtype, "upload");
  }

  /** `#launch` for a temporary this backend frees itself with `#free` (not counted as live). */
  #run(
    source: KernelSource,
    grid: number | OutputGrid,
    dtype: DType,
    counted: "launch" | "upload" = "launch",
  ): GpuBuffer {
    if (dtype === "float64") throw float64Refused("a kernel asked for a float64 result");
    const size = typeof grid === "number" ? grid : grid.reduce((product, extent) => product * extent, 1);
    if (size === 0) return new GpuBuffer(dtype, size, new Float32Array(0));
    if (counted === "launch") this.#stats.launches++;
    return new GpuBuffer(dtype, size, this.#runner.run(source, grid));
  }

  #buffer(buffer: DeviceBuffer): GpuBuffer {
    if (!(buffer instanceof GpuBuffer)) {
      throw new Error(
        `the GPU backend was given a ${buffer.device} buffer: move the tensor with .to("gpu") first`,
      );
    }
    return buffer;
  }

  #operand(view: View): Operand {
    return { buffer: this.#buffer(view.buffer), strides: view.strides, offset: view.offset };
  }

  /** Frees a buffer this backend made for its own use (a temporary). */
  #free(buffer: GpuBuffer): void {
    const value = buffer.take();
    if (value !== null) this.#runner.free(value);
    if (buffer.centring !== null) this.#free(buffer.centring);
  }

  /** The view as a whole contiguous buffer: the buffer itself when it already is one, else a copy (temporary). */
  #whole(view: View): { buffer: GpuBuffer; temporary: boolean } {
    const buffer = this.#buffer(view.buffer);
    if (view.offset === 0 && shapeSize(view.shape) === buffer.size && isContiguousView(view)) {
      return { buffer, temporary: false };
    }
    const copy = this.#run(
      copySource(this.#operand(view), view.shape, buffer.dtype),
      shapeSize(view.shape),
      buffer.dtype,
    );
    return { buffer: copy, temporary: true };
  }

  upload(values: TypedArray): DeviceBuffer {
    if (values instanceof Float64Array) throw float64Refused("upload of a float64 array");
    const dtype: DType =
      values instanceof Int32Array ? "int32" : values instanceof Uint8Array ? "bool" : "float32";
    assertSize(values.length);
    if (dtype === "int32") {
      for (const value of values) {
        if (Math.abs(value) > MAX_ELEMENTS) {
          throw new RangeError(
            `int32 value ${value} cannot be stored exactly on the GPU backend (float32 storage holds integers ` +
              "up to ±2^24): keep this tensor on the CPU backend",
          );
        }
      }
    }
    const floats = Float32Array.from(values);
    this.#stats.uploads++;
    if (!this.#runner.deviceResident || floats.length === 0) return this.#wrap(dtype, floats.length, floats);
    const source = new KernelSource();
    source.line(`return ${source.array(new GpuBuffer("float32", floats.length, floats))}[this.thread.x];`);
    return this.#transfer(source, floats.length, dtype);
  }

  /**
   * Small fills (scalar operands, `onesLike` seeds, per-row zeros) come from a cache: each call
   * gets its own buffer sharing the cached memory (kernels never write in place), so disposing
   * it never reaches the cache, and a training step uploads no constants.
   */
  full(size: number, value: number, dtype: DType): DeviceBuffer {
    if (dtype === "float64") throw float64Refused("full(…, float64)");
    assertSize(size);
    const stored = dtype === "bool" ? Number(value !== 0) : value;
    if (size > CACHED_FILL_SIZE) return this.#fill(size, stored, dtype);
    const key = `${dtype} ${size} ${Object.is(stored, -0) ? "-0" : stored}`;
    let cached = this.#fills.get(key);
    if (cached === undefined) {
      cached = this.#fill(size, stored, dtype);
      this.#live--;
    }
    // Most recently used last; the least recently used goes when the cache is full.
    this.#fills.delete(key);
    this.#fills.set(key, cached);
    for (const [oldest, fill] of this.#fills) {
      if (this.#fills.size <= CACHED_FILLS) break;
      this.#fills.delete(oldest);
      this.#free(fill);
    }
    this.#live++;
    const ready = cached.ready;
    return new GpuBuffer(dtype, size, ready === null ? cached.settled().then(share) : share(ready));
  }

  #fill(size: number, stored: number, dtype: DType): GpuBuffer {
    this.#stats.uploads++;
    if (!this.#runner.deviceResident) return this.#wrap(dtype, size, new Float32Array(size).fill(stored));
    return this.#transfer(fillSource(stored), size, dtype);
  }

  /** The view's values as a fresh Float32Array, or a promise of them. */
  #values(view: View): Float32Array | Promise<Float32Array> {
    this.#stats.reads++;
    const { buffer, temporary } = this.#whole(view);
    const size = buffer.size;
    const ready = buffer.ready;
    const result =
      ready === null
        ? buffer.settled().then((value) => this.#runner.read(value, size))
        : this.#runner.read(ready, size);
    if (temporary) this.#free(buffer);
    // webasm and cpu keep results as plain arrays: never hand out the buffer's own storage.
    return result instanceof Promise ? result.then((values) => values.slice()) : result.slice();
  }

  read(view: View): TypedArray {
    const buffer = this.#buffer(view.buffer);
    if (this.#runner.asynchronous) {
      throw new Error(
        `GPU.js runs ${this.#runner.mode}${this.#runner.mode === "webasm" ? " with threads" : ""} asynchronously, ` +
          "so values cannot be read synchronously (dataSync, item, tolist, toString, .to('cpu')): use `await tensor.data()`",
      );
    }
    const values = this.#values(view);
    if (values instanceof Promise) throw new Error("a GPU.js result could not be read synchronously");
    return typedAs(buffer.dtype, values);
  }

  async readAsync(view: View): Promise<TypedArray> {
    const values = await this.#values(view);
    return typedAs(this.#buffer(view.buffer).dtype, values);
  }

  release(buffer: DeviceBuffer): void {
    const gpuBuffer = this.#buffer(buffer);
    if (gpuBuffer.released) return;
    this.#free(gpuBuffer);
    this.#live--;
  }

  liveBuffers(): number {
    return this.#live;
  }

  writeInto(target: DeviceBuffer, source: DeviceBuffer): void {
    const [into, from] = [this.#buffer(target), this.#buffer(source)];
    const ready = from.ready;
    this.#runner.free(into.swap(ready === null ? from.settled().then(share) : share(ready)));
    if (into.centring !== null) {
      this.#free(into.centring);
      into.centring = null;
    }
  }

  // ---- elementwise, reductions, matmul ----------------------------------------------------------

  unary(op: UnaryOp, x: View, dtype: DType): DeviceBuffer {
    return this.#launch(unarySource(op, this.#operand(x), x.shape), shapeSize(x.shape), dtype);
  }

  binary(op: BinaryOp, a: View, b: View, dtype: DType): DeviceBuffer {
    const source = binarySource(op, this.#operand(a), this.#operand(b), a.shape, dtype);
    return this.#launch(source, shapeSize(a.shape), resultDtype(op, dtype));
  }

  where(condition: View, a: View, b: View, dtype: DType): DeviceBuffer {
    const source = whereSource(this.#operand(condition), this.#operand(a), this.#operand(b), a.shape);
    return this.#launch(source, shapeSize(a.shape), dtype);
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[]): DeviceBuffer {
    const size = shapeSize(x.shape.filter((_, axis) => !axes.includes(axis)));
    const dtype = op === "argmax" || op === "argmin" ? "int32" : x.buffer.dtype;
    // A sum over nothing is 0 (the frontend refuses the other reductions over empty dims).
    if (shapeSize(x.shape) === 0) return this.full(size, 0, dtype);
    return this.#launch(reduceSource(op, this.#operand(x), x.shape, axes), size, dtype);
  }

  /**
   * Batched `a @ b` on an (N, M, batch) grid. In webasm, a large b whose rows are not contiguous
   * along k (a plain row-major b) is first copied transposed, so every thread reads both operands
   * along k (`x.matmul(w.mT)`, Linear, already does). Not in the GL and WebGPU modes, where
   * neighbouring threads reading b[k][n], b[k][n + 1] are coalesced, nor for a b that fits a
   * core's cache: there the copy is a launch that buys nothing (the W4 step timed the same with
   * and without it in webasm, within the noise of this machine).
   */
  matmul(a: View, b: View, dtype: DType): DeviceBuffer {
    const rank = a.shape.length;
    const [m, k, n] = [a.shape[rank - 2], a.shape[rank - 1], b.shape[rank - 1]];
    const grid: OutputGrid = [n, m, shapeSize(a.shape.slice(0, -2))];
    if (k === 0) return this.full(shapeSize(grid), 0, dtype);
    let right = this.#operand(b);
    let transposed: GpuBuffer | null = null;
    const cacheSized = shapeSize(b.shape) <= TRANSPOSE_ABOVE;
    if (
      !this.#runner.deviceResident &&
      !cacheSized &&
      b.strides[rank - 2] !== 1 &&
      k > 1 &&
      m > 4 &&
      shapeSize(grid) > 0
    ) {
      const shape = [...b.shape.slice(0, -2), n, k];
      const strides = [...b.strides.slice(0, -2), b.strides[rank - 1], b.strides[rank - 2]];
      transposed = this.#run(
        copySource({ ...right, strides }, shape, b.buffer.dtype),
        shapeSize(shape),
        b.buffer.dtype,
      );
      const packed = contiguousStrides(shape);
      right = { buffer: transposed, strides: [...packed.slice(0, -2), 1, k], offset: 0 };
    }
    const flat = this.#runner.deviceResident;
    const source = matmulSource(this.#operand(a), right, a.shape, n, { grid: !flat });
    const result = this.#launch(source, flat ? shapeSize(grid) : grid, dtype);
    if (transposed !== null) this.#free(transposed);
    return result;
  }

  copy(x: View, dtype: DType): DeviceBuffer {
    return this.#launch(copySource(this.#operand(x), x.shape, dtype), shapeSize(x.shape), dtype);
  }

  pad(x: View, padding: Padding, value: number): DeviceBuffer {
    const size = shapeSize(x.shape.map((dim, axis) => dim + padding[axis][0] + padding[axis][1]));
    if (shapeSize(x.shape) === 0) return this.full(size, value, x.buffer.dtype);
    return this.#launch(padSource(this.#operand(x), x.shape, padding, value), size, x.buffer.dtype);
  }

  cat(xs: readonly View[], axis: number, dtype: DType): DeviceBuffer {
    const outShape = xs[0].shape.slice();
    outShape[axis] = xs.reduce((sum, x) => sum + x.shape[axis], 0);
    const placed: { operand: Operand; shape: Shape; start: number }[] = [];
    let start = 0;
    for (const x of xs) {
      if (x.shape[axis] > 0) placed.push({ operand: this.#operand(x), shape: x.shape, start });
      start += x.shape[axis];
    }
    // Six inputs per kernel, each call drawing over the previous one's result (seven arrays at most).
    let previous: GpuBuffer | null = null;
    for (let first = 0; first < placed.length || previous === null; first += 6) {
      const chunk = placed.slice(first, first + 6);
      const operand: Operand | null = previous && { buffer: previous, strides: [1], offset: 0 };
      const next = this.#run(catSource(chunk, operand, outShape, axis), shapeSize(outShape), dtype);
      if (previous !== null) this.#free(previous);
      previous = next;
    }
    this.#live++;
    return previous;
  }

  gather(x: View, axis: number, index: View): DeviceBuffer {
    const source = gatherSource(this.#operand(x), axis, this.#operand(index), index.shape);
    return this.#launch(source, shapeSize(index.shape), x.buffer.dtype);
  }

  scatterAdd(source: View, axis: number, index: View, shape: Shape): DeviceBuffer {
    if (shapeSize(index.shape) === 0) return this.full(shapeSize(shape), 0, source.buffer.dtype);
    const kernel = scatterAddSource(this.#operand(source), axis, this.#operand(index), index.shape, shape);
    return this.#launch(kernel, shapeSize(shape), source.buffer.dtype);
  }

  // ---- convolution and pooling ------------------------------------------------------------------

  /**
   * The grid an NCHW-shaped output runs on: (W, H, N·C) where webasm's SIMD benefits (see
   * `emitPlaneCoordinates`), flat in the GL modes, whose results must all be 1-D textures.
   */
  #plane(shape: Shape): { grid: boolean; launch: number | OutputGrid } {
    const grid = !this.#runner.deviceResident;
    return { grid, launch: grid ? planeGrid(shape) : shapeSize(shape) };
  }

  conv2d(x: View, weight: View, params: Conv2dKernelParams): DeviceBuffer {
    const g = convGeometry(x.shape, weight.shape, params);
    const { grid, launch } = this.#plane([g.batch, g.outChannels, g.outH, g.outW]);
    const source = conv2dSource(this.#operand(x), this.#operand(weight), g, params, { grid });
    return this.#launch(source, launch, x.buffer.dtype);
  }

  conv2dInputGrad(dy: View, weight: View, inputShape: Shape, params: Conv2dKernelParams): DeviceBuffer {
    const g = convGeometry(inputShape, weight.shape, params);
    const { grid, launch } = this.#plane(inputShape);
    const source = conv2dInputGradSource(this.#operand(dy), this.#operand(weight), g, params, { grid });
    return this.#launch(source, launch, dy.buffer.dtype);
  }

  conv2dWeightGrad(x: View, dy: View, weightShape: Shape, params: Conv2dKernelParams): DeviceBuffer {
    if (shapeSize(dy.shape) === 0) return this.full(shapeSize(weightShape), 0, x.buffer.dtype);
    const g = convGeometry(x.shape, weightShape, params);
    const source = conv2dWeightGradSource(this.#operand(x), this.#operand(dy), g, params);
    return this.#launch(source, shapeSize(weightShape), x.buffer.dtype);
  }

  maxPool2d(x: View, params: Pool2dParams): { values: DeviceBuffer; indices: DeviceBuffer } {
    const [batch, channels, height, width] = x.shape;
    const planes = { planes: batch * channels, height, width };
    const outputPlane = params.outputSize[0] * params.outputSize[1];
    const { grid, launch } = this.#plane([planes.planes, ...params.outputSize]);
    const indices = this.#launch(
      maxPoolIndexSource(this.#operand(x), planes, params, { grid }),
      launch,
      "int32",
    );
    const take = takeByIndexSource(
      this.#operand(x),
      { buffer: indices, strides: [1], offset: 0 },
      height * width,
      outputPlane,
    );
    const values = this.#launch(take, planes.planes * outputPlane, x.buffer.dtype);
    return { values, indices };
  }

  maxPool2dBackward(dy: View, indices: View, inputShape: Shape, params: Pool2dParams): DeviceBuffer {
    const [batch, channels, height, width] = inputShape;
    const planes = { planes: batch * channels, height, width };
    const { grid, launch } = this.#plane([planes.planes, height, width]);
    const source = maxPoolBackwardSource(this.#operand(dy), this.#operand(indices), planes, params, { grid });
    return this.#launch(source, launch, dy.buffer.dtype);
  }

  avgPool2d(x: View, params: AvgPool2dParams): DeviceBuffer {
    const [batch, channels, height, width] = x.shape;
    const planes = { planes: batch * channels, height, width };
    const { grid, launch } = this.#plane([planes.planes, ...params.outputSize]);
    return this.#launch(avgPoolSource(this.#operand(x), planes, params, { grid }), launch, x.buffer.dtype);
  }

  avgPool2dBackward(dy: View, inputShape: Shape, params: AvgPool2dParams): DeviceBuffer {
    const [batch, channels, height, width] = inputShape;
    const planes = { planes: batch * channels, height, width };
    const { grid, launch } = this.#plane([planes.planes, height, width]);
    return this.#launch(
      avgPoolBackwardSource(this.#operand(dy), planes, params, { grid }),
      launch,
      dy.buffer.dtype,
    );
  }

  // ---- fused normalization ----------------------------------------------------------------------

  /**
   * Fused normalization forward. Statistics: each statistic's elements are shifted by its first
   * element (exact), blocks of 256 give a two-pass mean and M₂ each, and the blocks are merged
   * by Chan's formula (never E[x²] − E[x]²). The mean's shifted part rides along with the mean
   * buffer so the backward centres x exactly too.
   */
  normForward(
    x: View,
    layout: NormLayout,
    weight: View | null,
    bias: View | null,
    { eps, statistics }: NormForwardOptions,
  ): { output: DeviceBuffer; statistics: NormStatistics<DeviceBuffer> | null } {
    const g = normBlocks(layout);
    const temporaries: GpuBuffer[] = [];
    const whole = (view: View): GpuBuffer => {
      const { buffer, temporary } = this.#whole(view);
      if (temporary) temporaries.push(buffer);
      return buffer;
    };
    const input = whole(x);
    const [gamma, beta] = [weight && whole(weight), bias && whole(bias)];
    const size = shapeSize(x.shape);
    const dtype = x.buffer.dtype;
    let computed: NormStatistics<GpuBuffer> | null = null;
    let centring: Centring;
    let variance: GpuBuffer;
    if (statistics === null) {
      const blocks = Math.max(1, Math.ceil(g.count / NORM_BLOCK));
      const partials = g.statistics * blocks;
      // The shifted mean lives as long as the mean it belongs to (freed with it, not counted).
      let shiftedMean: GpuBuffer;
      if (blocks === 1) {
        // One block per statistic is the whole statistic: no merge (two launches fewer).
        shiftedMean = this.#run(normPartialSource(input, null, g, 1), partials, "float32");
        variance = this.#launch(normPartialSource(input, shiftedMean, g, 1, true), partials, "float32");
      } else {
        const blockMeans = this.#run(normPartialSource(input, null, g, blocks), partials, "float32");
        const blockSquares = this.#run(normPartialSource(input, blockMeans, g, blocks), partials, "float32");
        shiftedMean = this.#run(
          normMergeSource(blockMeans, blockSquares, g, blocks, "mean"),
          g.statistics,
          "float32",
        );
        variance = this.#launch(
          normMergeSource(blockMeans, blockSquares, g, blocks, "variance"),
          g.statistics,
          "float32",
        );
        this.#free(blockMeans);
        this.#free(blockSquares);
      }
      const mean = this.#launch(normMeanSource(input, shiftedMean, g), g.statistics, "float32");
      mean.centring = shiftedMean;
      centring = { kind: "shifted", shiftedMean };
      computed = { mean, variance };
    } else {
      centring = { kind: "mean", mean: whole(statistics.mean) };
      variance = whole(statistics.variance);
    }
    const output = this.#launch(
      normOutputSource(input, g, centring, variance, gamma, beta, eps),
      size,
      dtype,
    );
    for (const temporary of temporaries) this.#free(temporary);
    return { output, statistics: computed };
  }

  /**
   * Fused normalization backward: one kernel for the per-channel sums Σdy and Σdy·x̂ (dbias,
   * dweight; for BatchNorm also the sums dx needs), one for the per-group sums Σĝ, Σĝx̂ (other
   * layouts), one for dx. x̂ is recomputed from x, centred exactly when the mean came from
   * `normForward` here.
   */
  normBackward(
    dy: View,
    x: View,
    layout: NormLayout,
    weight: View | null,
    statistics: NormStatistics<View>,
    { eps, statisticsFromInput, needs }: NormBackwardOptions,
  ): { dx: DeviceBuffer | null; dweight: DeviceBuffer | null; dbias: DeviceBuffer | null } {
    const g = normBlocks(layout);
    const temporaries: GpuBuffer[] = [];
    const whole = (view: View): GpuBuffer => {
      const { buffer, temporary } = this.#whole(view);
      if (temporary) temporaries.push(buffer);
      return buffer;
    };
    const [gradient, input, gamma] = [whole(dy), whole(x), weight && whole(weight)];
    const shiftedMean = this.#buffer(statistics.mean.buffer).centring;
    const centring: Centring =
      statisticsFromInput && shiftedMean !== null && statistics.mean.offset === 0
        ? { kind: "shifted", shiftedMean }
        : { kind: "mean", mean: whole(statistics.mean) };
    const variance = whole(statistics.variance);
    const dtype = dy.buffer.dtype;
    // Σdy (dbias) and Σdy·x̂ (dweight) per channel, each its own kernel: BatchNorm's dx reads both.
    const sumsForDx = needs.input && statisticsFromInput && g.kind === "per-channel";
    const channelSum = (which: 0 | 1, needed: boolean): GpuBuffer | null =>
      needed
        ? this.#run(
            normChannelSumsSource(gradient, input, g, centring, variance, eps, which),
            g.channels,
            dtype,
          )
        : null;
    const sumDy = channelSum(0, needs.bias || sumsForDx);
    const sumDyXhat = channelSum(1, needs.weight || sumsForDx);
    let dx: GpuBuffer | null = null;
    if (needs.input) {
      let sums: NormSums | null = null;
      if (sumsForDx && sumDy !== null && sumDyXhat !== null) {
        sums = { first: sumDy, second: sumDyXhat, secondStart: 0 };
      } else if (statisticsFromInput) {
        const groupSums = this.#run(
          normGroupSumsSource(gradient, input, g, centring, variance, gamma, eps),
          2 * g.statistics,
          "float32",
        );
        sums = { first: groupSums, second: groupSums, secondStart: g.statistics };
      }
      const source = normInputGradSource(gradient, input, g, centring, variance, gamma, sums, eps);
      dx = this.#launch(source, shapeSize(x.shape), dtype);
      if (sums !== null && sums.first !== sumDy) this.#free(sums.first);
    }
    const handOut = (sum: GpuBuffer | null, needed: boolean): GpuBuffer | null => {
      if (sum === null) return null;
      if (!needed) {
        this.#free(sum);
        return null;
      }
      this.#live++;
      return sum;
    };
    const [dbias, dweight] = [handOut(sumDy, needs.bias), handOut(sumDyXhat, needs.weight)];
    for (const temporary of temporaries) this.#free(temporary);
    return { dx, dweight, dbias };
  }

  /**
   * BatchNorm's running statistics updated in place without a read: one kernel judges every
   * channel's batch and next values finite (the refusal flag it returns), one per statistic
   * writes `(1 − m)·running + m·batch` unless refused.
   */
  updateRunningStatisticsOnDevice(
    running: NormStatistics<DeviceBuffer>,
    batch: NormStatistics<View>,
    { momentum, varianceScale }: { readonly momentum: number; readonly varianceScale: number },
  ): DeviceBuffer {
    const stored = { mean: this.#buffer(running.mean), variance: this.#buffer(running.variance) };
    const [mean, variance] = [this.#whole(batch.mean), this.#whole(batch.variance)];
    const values = { mean: mean.buffer, variance: variance.buffer };
    const refused = this.#launch(runningRefusedSource(stored, values, momentum, varianceScale), 1, "float32");
    const channels = stored.mean.size;
    const nextMean = this.#run(
      runningUpdateSource(stored.mean, values.mean, refused, momentum, 1),
      channels,
      stored.mean.dtype,
    );
    const nextVariance = this.#run(
      runningUpdateSource(stored.variance, values.variance, refused, momentum, varianceScale),
      channels,
      stored.variance.dtype,
    );
    this.#overwrite(stored.mean, nextMean);
    this.#overwrite(stored.variance, nextVariance);
    for (const { buffer, temporary } of [mean, variance]) if (temporary) this.#free(buffer);
    return refused;
  }

  // ---- fused cross-entropy ----------------------------------------------------------------------

  /**
   * Cross-entropy of logits (N, C) against class indices in two kernels: per-row log-sum-exp
   * (plus the counted rows and the range flag), then the reduced loss.
   */
  crossEntropyForward(
    x: View,
    target: View,
    options: CrossEntropyKernelOptions,
  ): { loss: DeviceBuffer; rows: DeviceBuffer } {
    const [n, classes] = x.shape;
    const [logits, targets] = [this.#whole(x), this.#whole(target)];
    const rows = this.#launch(
      crossEntropyRowsSource(logits.buffer, targets.buffer, n, classes, options.ignoreIndex),
      n + 2,
      "float32",
    );
    const loss = this.#launch(
      crossEntropyLossSource(logits.buffer, targets.buffer, rows, n, classes, options),
      1,
      x.buffer.dtype,
    );
    for (const { buffer, temporary } of [logits, targets]) if (temporary) this.#free(buffer);
    return { loss, rows };
  }

  /** dx of `crossEntropyForward` in one kernel, from the saved per-row log-sum-exps. */
  crossEntropyBackward(
    dy: View,
    x: View,
    target: View,
    rows: View,
    options: CrossEntropyKernelOptions,
  ): DeviceBuffer {
    const [n, classes] = x.shape;
    const parts = [this.#whole(dy), this.#whole(x), this.#whole(target), this.#whole(rows)];
    const [gradient, logits, targets, lse] = parts.map((part) => part.buffer);
    const source = crossEntropyGradSource(gradient, logits, targets, lse, n, classes, options);
    const dx = this.#launch(source, n * classes, x.buffer.dtype);
    for (const { buffer, temporary } of parts) if (temporary) this.#free(buffer);
    return dx;
  }

  // ---- fused optimizer updates ------------------------------------------------------------------

  /** Replaces `target`'s value by a temporary's (an in-place update computed out of place). */
  #overwrite(target: GpuBuffer, result: GpuBuffer): void {
    const value = result.take();
    if (value !== null) this.#runner.free(target.swap(value));
  }

  /**
   * One SGD step in place, as torch.optim.SGD: with g = ±∇p + λ·p,
   * `b ← g` (first step) or `μ·b + (1 − τ)·g`, then `p ← p − lr·(g + μ·b if nesterov, else b)`;
   * without momentum (`momentumBuffer` null) `p ← p − lr·g`. Two kernels instead of six ops.
   * `param` and `momentumBuffer` are whole buffers (tensors owning their storage).
   */
  sgdStep(
    param: DeviceBuffer,
    grad: View,
    momentumBuffer: DeviceBuffer | null,
    options: SgdStepOptions,
  ): void {
    const p = this.#buffer(param);
    const { buffer: g, temporary } = this.#whole(grad);
    const buffer = momentumBuffer && this.#buffer(momentumBuffer);
    const updatedBuffer = buffer && this.#run(sgdMomentumSource(p, g, buffer, options), p.size, p.dtype);
    const updated = this.#run(sgdParameterSource(p, g, updatedBuffer, options), p.size, p.dtype);
    if (buffer !== null && updatedBuffer !== null) this.#overwrite(buffer, updatedBuffer);
    this.#overwrite(p, updated);
    if (temporary) this.#free(g);
  }

  /**
   * One Adam/AdamW step in place, as torch.optim.Adam/AdamW: with g = ±∇p (+ λ·p for Adam),
   * `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`, `v̂ ← max(v̂, v)` with AMSGrad, then
   * `p ← p·(1 − lr·λ)` (AdamW) `− lr/(1 − β₁ᵗ)·m/(√v/√(1 − β₂ᵗ) + eps)`. One kernel per updated tensor.
   */
  adamStep(param: DeviceBuffer, grad: View, state: AdamStepState, options: AdamStepOptions): void {
    const p = this.#buffer(param);
    const { buffer: g, temporary } = this.#whole(grad);
    const [m, v] = [this.#buffer(state.expAvg), this.#buffer(state.expAvgSq)];
    const maxV = state.maxExpAvgSq && this.#buffer(state.maxExpAvgSq);
    const newM = this.#run(adamMomentSource(p, g, m, "first", options), p.size, p.dtype);
    const newV = this.#run(adamMomentSource(p, g, v, "second", options), p.size, p.dtype);
    const newMax =
      options.amsgrad && maxV !== null ? this.#run(elementwiseMaxSource(maxV, newV), p.size, p.dtype) : null;
    const updated = this.#run(adamParameterSource(p, newM, newMax ?? newV, options), p.size, p.dtype);
    this.#overwrite(m, newM);
    this.#overwrite(v, newV);
    if (maxV !== null && newMax !== null) this.#overwrite(maxV, newMax);
    this.#overwrite(p, updated);
    if (temporary) this.#free(g);
  }
}
