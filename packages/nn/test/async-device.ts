// A fake asynchronous second device for tests: the CPU kernels behind buffers labelled "gpu", values read only with `await data()`.
import {
  type Backend,
  CpuBackend,
  CpuBuffer,
  type DeviceBuffer,
  type DType,
  registerBackend,
} from "@normgrad/core";

/** A CPU buffer relabelled as "gpu". */
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

/**
 * Registers "gpu" as an asynchronous device in this test file's process (each file runs in its
 * own), as GPU.js webgpu is: `readsSynchronously` is false and `read` throws.
 */
export function registerAsyncFakeGpu(): void {
  const cpu: Backend = new CpuBackend();
  const gpu = new Proxy(cpu, {
    get(target, property) {
      if (property === "device") return "gpu";
      if (property === "readsSynchronously") return false;
      if (property === "read") {
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
