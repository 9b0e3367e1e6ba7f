// A Backend wrapper that times every kernel call and counts the bytes its results allocate.
import { performance } from "node:perf_hooks";
import type { Backend } from "@normgrad/core";

/** What a kernel's time counts as in the breakdown. */
export type KernelCategory =
  | "matmul"
  | "conv"
  | "norms"
  | "optimizer"
  | "pooling"
  | "elementwise"
  | "reductions"
  | "copies and indexing"
  | "allocation"
  | "host reads";

/**
 * The category of each Backend member; a mapped type, so a method added to the interface is a
 * compile error here until it is categorised. Non-kernel members are null.
 */
const CATEGORY_OF: { [K in keyof Backend]-?: KernelCategory | null } = {
  device: null,
  dtypes: null,
  readsSynchronously: null,
  releasesGradientsEagerly: null,
  liveBuffers: null,
  release: null,
  upload: "allocation",
  full: "allocation",
  read: "host reads",
  readAsync: "host reads",
  writeInto: "copies and indexing",
  copy: "copies and indexing",
  pad: "copies and indexing",
  cat: "copies and indexing",
  gather: "copies and indexing",
  scatterAdd: "copies and indexing",
  unary: "elementwise",
  binary: "elementwise",
  where: "elementwise",
  reduce: "reductions",
  matmul: "matmul",
  conv2d: "conv",
  conv2dInputGrad: "conv",
  conv2dWeightGrad: "conv",
  maxPool2d: "pooling",
  maxPool2dBackward: "pooling",
  avgPool2d: "pooling",
  avgPool2dBackward: "pooling",
  normForward: "norms",
  normBackward: "norms",
  updateRunningStatistics: "norms",
  updateRunningStatisticsOnDevice: "norms",
  crossEntropyForward: "reductions",
  crossEntropyBackward: "elementwise",
  sgdStep: "optimizer",
  adamStep: "optimizer",
};

function isBackendKey(key: string | symbol, backend: Backend): key is keyof Backend {
  return typeof key === "string" && key in CATEGORY_OF && key in backend;
}

/** Time and calls of one kernel (a method, with its op for elementwise and reduction methods). */
export interface KernelTally {
  kernel: string;
  category: KernelCategory;
  /** The phase it ran in (whatever `setPhase` last set). */
  phase: string;
  calls: number;
  ms: number;
  /** Bytes of the buffers it returned. */
  bytes: number;
}

/** The wrapped backend and the tallies it collects. */
export interface ProfilingBackend {
  backend: Backend;
  /** Attributes the following kernel calls to `phase`. */
  setPhase(phase: string): void;
  /** The tallies since the last `reset`. */
  tallies(): KernelTally[];
  reset(): void;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** Bytes of the device buffers in a kernel's result (a buffer, or an object holding some, one level deep). */
function allocatedBytes(result: unknown, depth = 0): number {
  if (!isRecord(result)) return 0;
  if (typeof result.size === "number" && typeof result.dtype === "string") {
    return result.size * (result.dtype === "float64" ? 8 : 4);
  }
  if (depth > 1) return 0;
  return Object.values(result).reduce<number>((sum, value) => sum + allocatedBytes(value, depth + 1), 0);
}

/**
 * Wraps `inner` so every kernel call is timed (wall clock, including the allocation of its
 * result) and tallied by kernel and phase. Calls a kernel makes on its own backend internally
 * are not double counted: the wrapper calls `inner` directly.
 */
export function profileBackend(inner: Backend): ProfilingBackend {
  let phase = "other";
  let tallies = new Map<string, KernelTally>();
  const wrappers = new Map<string, unknown>();
  const backend = new Proxy<Backend>(inner, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== "function" || !isBackendKey(key, target)) return value;
      const cached = wrappers.get(key);
      if (cached !== undefined) return cached;
      const category = CATEGORY_OF[key];
      // Methods run with the real backend as `this`: its private fields are not on the proxy.
      const wrapper =
        category === null
          ? (...args: unknown[]): unknown => Reflect.apply(value, target, args)
          : (...args: unknown[]): unknown => {
              const start = performance.now();
              const result: unknown = Reflect.apply(value, target, args);
              const ms = performance.now() - start;
              const kernel = typeof args[0] === "string" ? `${key} ${args[0]}` : key;
              const id = `${phase}\u0000${kernel}`;
              const tally = tallies.get(id) ?? { kernel, category, phase, calls: 0, ms: 0, bytes: 0 };
              tally.calls++;
              tally.ms += ms;
              tally.bytes += allocatedBytes(result);
              tallies.set(id, tally);
              return result;
            };
      wrappers.set(key, wrapper);
      return wrapper;
    },
  });
  return {
    backend,
    setPhase: (next) => {
      phase = next;
    },
    tallies: () => [...tallies.values()],
    reset: () => {
      tallies = new Map();
    },
  };
}
