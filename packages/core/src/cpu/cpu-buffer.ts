// The CPU storage type: a typed array behind the DeviceBuffer interface, and the narrowing every CPU kernel reads through.
import type { DeviceBuffer } from "../backend.ts";
import { type DType, dtypeOfArray, type TypedArray } from "../dtype.ts";

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
