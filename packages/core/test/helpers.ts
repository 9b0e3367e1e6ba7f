// Core's test helpers: the view makers, a gradcheck that checks every input, and a fake second device.
import { expect } from "vitest";
import {
  type Backend,
  CpuBackend,
  CpuBuffer,
  type DeviceBuffer,
  type DType,
  type GradcheckOptions,
  gradcheck,
  registerBackend,
  type Shape,
  type Tensor,
} from "../src/index.ts";

/** How an input reaches the op under test: as it is, or through a non-contiguous or broadcast view. */
export interface ViewMaker {
  name: string;
  /** The shape of the leaf to create so that `apply` gives a view of `shape`. */
  leafShape: (shape: Shape) => Shape;
  apply: (leaf: Tensor, shape: Shape) => Tensor;
}

/**
 * The identity plus the three kinds of view: transposed (the last two dims; a 0-D or 1-D input
 * stays as it is), sliced (an offset and gaps on every dim), expanded (stride 0 along dim 0).
 */
export const VIEW_MAKERS: readonly ViewMaker[] = [
  { name: "contiguous", leafShape: (shape) => shape, apply: (leaf) => leaf },
  {
    name: "transposed",
    leafShape: (shape) => (shape.length < 2 ? shape : [...shape.slice(0, -2), shape.at(-1)!, shape.at(-2)!]),
    apply: (leaf) => (leaf.ndim < 2 ? leaf : leaf.mT),
  },
  {
    name: "sliced",
    leafShape: (shape) => shape.map((dim) => dim + 2),
    apply: (leaf, shape) => shape.reduce((view, dim, axis) => view.narrow(axis, 1, dim), leaf),
  },
  {
    name: "expanded",
    leafShape: (shape) => (shape.length === 0 ? shape : [1, ...shape.slice(1)]),
    apply: (leaf, shape) => leaf.expand(shape),
  },
];

/**
 * Runs float64 `gradcheck` (which throws naming the worst element on a mismatch) and asserts
 * that it checked every input that requires grad.
 */
export function checkGradients(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options?: GradcheckOptions,
): void {
  const reports = gradcheck(fn, inputs, options);
  const expected = inputs.flatMap((input, i) => (input.requiresGrad ? [i] : []));
  expect(reports.map((report) => report.input)).toEqual(expected);
}

/** A buffer of the fake second device: a CPU buffer relabelled as "gpu". */
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
 * Registers a fake second device, "gpu", in this test file's process (each test file runs in
 * its own): the CPU kernels behind buffers labelled "gpu", so its tensors really are on another
 * device as far as the frontend can tell. A proxy, so it follows every method the Backend has.
 */
export function registerFakeGpu(): void {
  const cpu: Backend = new CpuBackend();
  const gpu = new Proxy(cpu, {
    get(target, property) {
      if (property === "device") return "gpu";
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
