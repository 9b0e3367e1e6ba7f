// registerFakeGpu: a second device "gpu" made of the CPU kernels, synchronous or asynchronous, for tests without GPU.js.
import {
  type Backend,
  CpuBackend,
  CpuBuffer,
  type DeviceBuffer,
  type DType,
  registerBackend,
} from "../../core/src/index.ts";

/** A buffer of the fake device: a CPU buffer relabelled as "gpu". */
class RelabelledBuffer implements DeviceBuffer {
  readonly device = "gpu";
  constructor(readonly inner: DeviceBuffer) {}
  get dtype(): DType {
    return this.inner.dtype;
  }
  get size(): number {
    return this.inner.size;
  }
}

/** Replaces relabelled buffers (alone, in views, in lists of views) by the CPU buffers inside. */
function unwrap(argument: unknown): unknown {
  if (argument instanceof RelabelledBuffer) return argument.inner;
  if (Array.isArray(argument)) return argument.map(unwrap);
  if (ArrayBuffer.isView(argument)) return argument;
  if (typeof argument === "object" && argument !== null && "buffer" in argument) {
    return { ...argument, buffer: unwrap(argument.buffer) };
  }
  return argument;
}

/** Options of `registerFakeGpu`. */
export interface FakeGpuOptions {
  /**
   * Behave as an asynchronous device (GPU.js webgpu): `readsSynchronously` false and `read`
   * throwing, so values come only through `await data()`. Default false.
   */
  asynchronous?: boolean;
}

/**
 * Registers a fake second device, "gpu", in this test file's process (each test file runs in
 * its own): the CPU kernels behind buffers labelled "gpu", so its tensors really are on another
 * device as far as the frontend can tell. A proxy, so it follows every method the Backend has.
 */
export function registerFakeGpu({ asynchronous = false }: FakeGpuOptions = {}): void {
  const cpu: Backend = new CpuBackend();
  const gpu = new Proxy(cpu, {
    get(target, property) {
      if (property === "device") return "gpu";
      if (asynchronous && property === "readsSynchronously") return false;
      if (asynchronous && property === "read") {
        return () => {
          throw new Error("the fake asynchronous gpu cannot read synchronously: use await data()");
        };
      }
      const member: unknown = Reflect.get(target, property);
      if (typeof member !== "function") return member;
      return (...args: unknown[]) => {
        const result: unknown = member.apply(target, args.map(unwrap));
        return result instanceof CpuBuffer ? new RelabelledBuffer(result) : result;
      };
    },
  });
  registerBackend(gpu);
}
