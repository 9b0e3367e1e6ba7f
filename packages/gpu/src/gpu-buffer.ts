// The GPU buffer: a GPU.js result (texture, WebGPU buffer or typed array) that may still be in flight.
import type { DeviceBuffer, DType } from "@normgrad/core";

/**
 * A result GPU.js keeps on the device between kernels (`pipeline: true`): a GL texture or a
 * WebGPU buffer. Not garbage collected: it must be `delete()`d.
 */
export interface DeviceHandle {
  toArray(): unknown;
  delete(): void;
  /** Another reference to the same memory (reference-counted; never written in place by kernels). */
  clone(): DeviceHandle;
}

/** What a buffer holds: a device handle, or a Float32Array where the mode has no device memory (webasm, cpu). */
export type Resident = DeviceHandle | Float32Array;

/** True for a GL texture or WebGPU buffer handle (anything GPU.js gives back that is not an array). */
export function isDeviceHandle(value: unknown): value is DeviceHandle {
  return (
    typeof value === "object" &&
    value !== null &&
    !ArrayBuffer.isView(value) &&
    "toArray" in value &&
    typeof value.toArray === "function" &&
    "delete" in value &&
    typeof value.delete === "function" &&
    "clone" in value &&
    typeof value.clone === "function"
  );
}

/** Frees a resident value: textures and WebGPU buffers are deleted, arrays are left to the GC. */
export function deleteResident(value: Resident): void {
  if (isDeviceHandle(value)) value.delete();
}

/**
 * A buffer of the GPU backend. Every dtype is stored as float32 (GPU.js computes in float32):
 * int32 values are exact up to 2^24. The value is either ready or a promise of it (in the
 * asynchronous modes, where a kernel call returns a promise and ops are chained on it).
 */
export class GpuBuffer implements DeviceBuffer {
  readonly device = "gpu";
  #value: Resident | Promise<Resident>;
  #released = false;
  /**
   * For a mean computed by the fused normalization: each statistic's mean after shifting x by
   * the statistic's first element. The backward centres x as (x − x_first) − centring, exactly,
   * where x − mean would lose the digits a float32 mean of data far from zero cannot hold
   * (mean 1e4, std 1e-2). Released with this buffer.
   */
  centring: GpuBuffer | null = null;

  constructor(
    readonly dtype: DType,
    readonly size: number,
    value: Resident | Promise<Resident>,
  ) {
    this.#value = value;
  }

  /** The value when it is ready, or null while a kernel producing it is still in flight. */
  get ready(): Resident | null {
    return this.#value instanceof Promise ? null : this.#value;
  }

  /** The value, once every kernel producing it has finished. */
  settled(): Promise<Resident> {
    return Promise.resolve(this.#value);
  }

  /** True after `release`. */
  get released(): boolean {
    return this.#released;
  }

  /** Puts in a new value (in-place writes) and returns the old one, for the runner to free. */
  swap(value: Resident | Promise<Resident>): Resident | Promise<Resident> {
    const old = this.#value;
    this.#value = value;
    return old;
  }

  /** Marks the buffer released and returns its value, for the runner to free (null if already released). */
  take(): Resident | Promise<Resident> | null {
    if (this.#released) return null;
    this.#released = true;
    return this.#value;
  }
}
