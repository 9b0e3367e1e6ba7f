// The GPU suites' helpers: the GPU.js modes they run in (skipped with the reason printed), copies to the GPU, the layer tolerance.
import { noGrad, registerBackend, type Tensor } from "@normgrad/core";
import type { Tolerance } from "@normgrad/testing";
import { afterAll, beforeAll } from "vitest";
import {
  type ActiveMode,
  GpuBackend,
  type GpuBackendOptions,
  modeUnavailableReason,
  webgpuUnavailableReason,
} from "../src/index.ts";

/**
 * The modes every suite runs in: webasm always, headlessgl where a GL context can be made,
 * webasm with a worker pool always, webgpu where Dawn loads and gives an adapter. The last two
 * are asynchronous: values are read with `await data()` only.
 */
export const SUITE_MODES = ["webasm", "headlessgl", "webasm-threads", "webgpu"] as const;
export type SuiteMode = (typeof SUITE_MODES)[number];

/** The asynchronous suite modes (kernels return promises; `dataSync` refuses). */
export const ASYNC_MODES = ["webasm-threads", "webgpu"] as const satisfies readonly SuiteMode[];

interface ModeSetup {
  /** What the backend is started with. */
  options: Pick<GpuBackendOptions, "mode" | "threads">;
  /** The GPU.js kernel class the mode must really run (GPU.js falls back silently otherwise). */
  kernelClass: string;
  /** What `backend.activeMode` reports. */
  activeMode: ActiveMode;
  /** False where kernels return promises and values are read with `await data()` only. */
  synchronous: boolean;
}

/** How each suite mode starts, and what it must really run. */
export const MODE_SETUP: { [M in SuiteMode]: ModeSetup } = {
  webasm: {
    options: { mode: "webasm" },
    kernelClass: "WebAssemblyKernel",
    activeMode: "webasm",
    synchronous: true,
  },
  headlessgl: {
    options: { mode: "headlessgl" },
    kernelClass: "HeadlessGLKernel",
    activeMode: "headlessgl",
    synchronous: true,
  },
  "webasm-threads": {
    options: { mode: "webasm", threads: true },
    kernelClass: "WebAssemblyKernel",
    activeMode: "webasm",
    synchronous: false,
  },
  webgpu: {
    options: { mode: "webgpu" },
    kernelClass: "WebGPUKernel",
    activeMode: "webgpu",
    synchronous: false,
  },
};

function describeError(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}

/**
 * Loads Dawn (`webgpu`, a devDependency) and installs it as `navigator.gpu` the way a browser
 * provides it, unless the platform already has one; returns why webgpu cannot run, or null.
 */
async function installWebGpu(): Promise<string | null> {
  if (modeUnavailableReason("webgpu") !== null) {
    let dawn: typeof import("webgpu");
    try {
      dawn = await import("webgpu");
    } catch (error) {
      return `the \`webgpu\` package (Dawn for Node, a devDependency of @normgrad/gpu) does not load here: ${describeError(error)}`;
    }
    Object.assign(globalThis, dawn.globals);
    Object.defineProperty(globalThis, "navigator", {
      value: { gpu: dawn.create([]) },
      configurable: true,
      writable: true,
    });
  }
  return webgpuUnavailableReason();
}

/** Why each mode cannot start here (null: it can), decided once per test file. */
const UNAVAILABLE: { [M in SuiteMode]: string | null } = {
  webasm: modeUnavailableReason("webasm"),
  headlessgl: modeUnavailableReason("headlessgl"),
  "webasm-threads": modeUnavailableReason("webasm"),
  webgpu: await installWebGpu(),
};

/**
 * Why `mode` is skipped here (printed), or null when it can start. A mode named in the
 * comma-separated `NORMGRAD_REQUIRE_MODES` (CI: `headlessgl`) fails instead of skipping.
 */
export function skipReason(mode: SuiteMode): string | null {
  const reason = UNAVAILABLE[mode];
  if (reason === null) return null;
  const required = (process.env.NORMGRAD_REQUIRE_MODES ?? "").split(",").includes(mode);
  if (required)
    throw new Error(`GPU.js mode ${mode} is required (NORMGRAD_REQUIRE_MODES) but cannot start: ${reason}`);
  console.warn(`[@normgrad/gpu tests] skipping GPU.js mode ${mode}: ${reason}`);
  return reason;
}

/**
 * Starts a backend in `mode` for the enclosing describe block and registers it as device "gpu".
 * The op suites pass `specializeInputSizes: false`: with it, GL compiles a kernel per shape,
 * and the suites' many shapes would cost minutes of shader compiles (the training and contract
 * tests run the default).
 */
export function useGpuBackend(
  mode: SuiteMode,
  options: Pick<GpuBackendOptions, "specializeInputSizes"> = {},
): () => GpuBackend {
  let backend: GpuBackend | null = null;
  beforeAll(async () => {
    backend = new GpuBackend({ ...MODE_SETUP[mode].options, ...options });
    await backend.ready();
    // GPU.js degrades silently: a suite must never pass on another mode than the one it names.
    const { kernelClass } = MODE_SETUP[mode];
    if (backend.kernelClass !== kernelClass) {
      throw new Error(`GPU.js mode ${mode} ran ${backend.kernelClass} kernels, not ${kernelClass}`);
    }
    registerBackend(backend);
  });
  afterAll(async () => {
    await backend?.destroy();
  });
  return () => {
    if (backend === null) throw new Error("the GPU backend is not started yet");
    return backend;
  };
}

/** A CPU tensor's copy on the GPU as a float32 leaf (int32 stays int32), requiring grad like the original. */
export function toGpu(tensor: Tensor): Tensor {
  const moved = noGrad(() =>
    (tensor.dtype === "float64" ? tensor.detach().to("float32") : tensor.detach()).to("gpu"),
  );
  return moved.requiresGrad_(tensor.requiresGrad);
}

/** Layers and fused norms in float32 against their float64 CPU copies (outputs, gradients, statistics). */
export const LAYER_TOLERANCE: Tolerance = { rtol: 1e-4, atol: 2e-5 };
