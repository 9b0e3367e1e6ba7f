// Compiles, caches and runs GPU.js kernels; chains them on promises in the asynchronous modes.
import { GPU, type IKernelRunShortcut, type Kernel, WebAssemblyKernel } from "gpu.js";
import { deleteResident, type GpuBuffer, isDeviceHandle, type Resident } from "./gpu-buffer.ts";
import type { KernelSource } from "./kernel-source.ts";
import { type ActiveMode, type GpuMode, kernelMode } from "./modes.ts";

/**
 * GPU.js caps a loop whose bound is an argument at `loopMaxIterations` (1000 by default,
 * silently); kernels pass sizes as uniforms, so the cap is raised to the largest size the
 * float32 index arithmetic handles exactly.
 */
export const MAX_ELEMENTS = 2 ** 24;

/** Sizes past 2^24 lose exactness in the float32 index arithmetic every kernel uses. */
export function assertSize(size: number): void {
  if (size > MAX_ELEMENTS) {
    throw new RangeError(
      `the GPU backend handles tensors of up to 2^24 = ${MAX_ELEMENTS} elements (float32 index arithmetic), ` +
        `got ${size}: split the work or use the CPU backend`,
    );
  }
}

/**
 * A kernel's output grid, GPU.js order: `[x]`, `[x, y]` or `[x, y, z]` (x fastest). Kernels
 * with a 1-D output index it flat; a 2-D/3-D output makes `this.thread.y`/`z` the same for the
 * four neighbouring x that webasm's SIMD runs together, so reads indexed by them are single loads.
 */
export type OutputGrid = readonly [number] | readonly [number, number] | readonly [number, number, number];

interface CachedKernel {
  readonly kernel: IKernelRunShortcut;
  output: readonly number[];
  checked: boolean;
}

/**
 * Row-major values of `size` elements from what GPU.js gives back: a Float32Array, or for
 * 2-D/3-D outputs nested arrays of Float32Array rows.
 */
function flatValues(values: unknown, size: number): Float32Array {
  if (values instanceof Float32Array) return values.length === size ? values : values.slice(0, size);
  if (!Array.isArray(values)) {
    throw new Error(`GPU.js returned unexpected values (${Object.prototype.toString.call(values)})`);
  }
  const out = new Float32Array(size);
  let at = 0;
  const walk = (part: unknown): void => {
    if (part instanceof Float32Array) {
      out.set(part.subarray(0, size - at), at);
      at += part.length;
    } else if (Array.isArray(part)) {
      for (const item of part) walk(item);
    } else {
      throw new Error(`GPU.js returned unexpected values (${Object.prototype.toString.call(part)})`);
    }
  };
  walk(values);
  return out;
}

/** A kernel result as a buffer value: a device handle, or (webasm, cpu) a flat Float32Array. */
function asResident(value: unknown, size: number): Resident {
  if (isDeviceHandle(value)) return value;
  return flatValues(value, size);
}

/** Runs kernel sources on one GPU.js instance, compiling each distinct source once. */
export class KernelRunner {
  readonly gpu: GPU;
  /** True where kernel calls return promises (webgpu, and webasm with threads): ops chain on them. */
  readonly asynchronous: boolean;
  /** True where results live in device memory (textures, buffers), so uploads go through a kernel. */
  readonly deviceResident: boolean;
  /** Kernels are compiled per input size as well as per source (see `GpuBackendOptions`). */
  readonly specializeInputSizes: boolean;
  readonly #cache = new Map<string, CachedKernel>();
  readonly #glMode: boolean;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    /** The mode asked of GPU.js (after auto-selection). */
    readonly mode: Exclude<GpuMode, "auto">,
    { threads, specializeInputSizes }: { threads: boolean; specializeInputSizes: boolean },
  ) {
    this.gpu = new GPU({ mode });
    this.asynchronous = mode === "webgpu" || (mode === "webasm" && threads);
    this.deviceResident = mode === "headlessgl" || mode === "webgl2" || mode === "webgpu";
    this.#glMode = mode === "headlessgl" || mode === "webgl2";
    this.specializeInputSizes = specializeInputSizes && this.#glMode;
  }

  /** Number of kernels compiled so far. */
  get compiledKernels(): number {
    return this.#cache.size;
  }

  /** The first kernel that ran (its class tells the mode that really runs); null before any ran. */
  get firstKernel(): Kernel | null {
    for (const entry of this.#cache.values()) if (entry.checked) return entry.kernel.kernel;
    return null;
  }

  #kernel(text: string, args: KernelSource["args"], output: OutputGrid): CachedKernel {
    const inputs = this.specializeInputSizes
      ? `\n${args.map((arg) => (typeof arg === "number" ? "" : arg.size)).join(",")}`
      : "";
    // In the GL modes each output size gets its own kernel: an immutable GL kernel given its own
    // last output keeps that texture and later renders into it, and setOutput does not drop it,
    // so a resized kernel wrote into a texture of the old size (#20, kernel-resize.test.ts).
    const outputs = this.#glMode ? `\n${output.join("x")}` : "";
    const key = `${text}${inputs}${outputs}`;
    let entry = this.#cache.get(key);
    if (entry === undefined) {
      const kernel = this.gpu.createKernel(text, {
        output: [1],
        pipeline: true,
        immutable: true,
        precision: "single",
        tactic: "precision",
        dynamicOutput: true,
        dynamicArguments: !this.specializeInputSizes,
        asyncMode: this.asynchronous,
      });
      kernel.setLoopMaxIterations(MAX_ELEMENTS);
      if (kernel.kernel instanceof WebAssemblyKernel) kernel.kernel.moduleCacheLimit = 64;
      entry = { kernel, output: [1], checked: false };
      this.#cache.set(key, entry);
    }
    return entry;
  }

  /** Checks a kernel really runs in the mode asked for: GPU.js degrades silently otherwise. */
  #check(entry: CachedKernel, text: string): void {
    if (entry.checked) return;
    const actual: ActiveMode = kernelMode(entry.kernel.kernel);
    if (actual !== this.mode) {
      const reason = entry.kernel.kernel.fallbackReason ?? "no reason given";
      throw new Error(
        `GPU.js ran a kernel in ${actual} mode instead of ${this.mode} (${reason}); kernel:\n${text}`,
      );
    }
    entry.checked = true;
  }

  #invoke(entry: CachedKernel, text: string, output: OutputGrid, values: unknown[]): unknown {
    if (
      entry.output.length !== output.length ||
      entry.output.some((extent, axis) => extent !== output[axis])
    ) {
      entry.kernel.setOutput([...output]);
      entry.output = output;
    }
    try {
      // gpu.js types kernel arguments narrower than what it takes (textures, typed arrays, numbers).
      const result: unknown = Reflect.apply(entry.kernel, undefined, values);
      this.#check(entry, text);
      return result;
    } catch (error) {
      throw new Error(`GPU.js kernel failed in ${this.mode} mode: ${String(error)}\nkernel:\n${text}`);
    }
  }

  /**
   * Runs a kernel over an output grid (a number: a 1-D output, `this.thread.x` = flat index) and
   * returns its result, or a promise of it in the asynchronous modes. Ready arguments are read now.
   */
  run(source: KernelSource, grid: number | OutputGrid): Resident | Promise<Resident> {
    const output: OutputGrid = typeof grid === "number" ? [grid] : grid;
    const size = output.reduce((product, extent) => product * extent, 1);
    assertSize(size);
    const text = source.text;
    const entry = this.#kernel(text, source.args, output);
    if (!this.asynchronous) {
      const values = source.args.map((arg) => (typeof arg === "number" ? arg : readyValue(arg)));
      return asResident(this.#invoke(entry, text, output, values), size);
    }
    // One queue for every launch: calls stay in program order and a resize never races a call.
    const args = source.args.map((arg) => (typeof arg === "number" ? arg : arg.settled()));
    const result = this.#queue.then(async () => {
      const values = await Promise.all(args);
      return asResident(await this.#invoke(entry, text, output, values), size);
    });
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** The values of a resident result: a Float32Array (synchronous modes) or a promise of one (webgpu). */
  read(value: Resident, size: number): Float32Array | Promise<Float32Array> {
    if (value instanceof Float32Array) return flatValues(value, size);
    const values: unknown = value.toArray();
    if (values instanceof Promise) return values.then((resolved: unknown) => flatValues(resolved, size));
    return flatValues(values, size);
  }

  /**
   * Frees a result's device memory. In the asynchronous modes the free waits in the launch
   * queue, so kernels launched earlier that read the value still find it.
   */
  free(value: Resident | Promise<Resident>): void {
    if (!this.asynchronous && !(value instanceof Promise)) {
      deleteResident(value);
      return;
    }
    const freed = this.#queue.then(async () => deleteResident(await value));
    this.#queue = freed.catch(() => undefined);
  }

  /** Frees every compiled kernel (and the GPU.js instance's contexts and worker pool). */
  async destroy(): Promise<void> {
    await this.#queue;
    this.#cache.clear();
    await this.gpu.destroy();
  }
}

/** A buffer's value in a synchronous mode, where every result is ready at once. */
function readyValue(buffer: GpuBuffer): Resident {
  if (buffer.released) throw new Error("a GPU buffer was used after it was released (a disposed tensor?)");
  const value = buffer.ready;
  if (value === null) throw new Error("a GPU buffer is still being computed in a synchronous mode");
  return value;
}
