/**
 * The GPU.js backend for device "gpu" (headlessgl, webgl2, webgpu, webasm or GPU.js's cpu mode).
 * @module @normgrad/gpu
 */
import { getBackend, registerBackend } from "@normgrad/core";
import { GpuBackend, type GpuBackendOptions, type GpuStats } from "./gpu-backend.ts";
import type { ActiveMode } from "./modes.ts";

export type { GpuBackendOptions, GpuStats } from "./gpu-backend.ts";
export { GpuBackend } from "./gpu-backend.ts";
export { GpuBuffer } from "./gpu-buffer.ts";
export type { ActiveMode, GpuMode } from "./modes.ts";
export {
  autoMode,
  headlessGlUnavailableReason,
  modeUnavailableReason,
  webgpuUnavailableReason,
} from "./modes.ts";

/** What `initGpu` gives back. */
export interface GpuInit {
  backend: GpuBackend;
  /** The mode kernels really run in (read from the kernel class, not the mode asked for). */
  mode: ActiveMode;
  /** The GPU.js kernel class that ran, e.g. `HeadlessGLKernel` or `WebAssemblyKernel`. */
  kernelClass: string;
}

/**
 * Starts the GPU.js backend and registers it for device `"gpu"`, so `tensor.to("gpu")` and
 * `module.to("gpu")` run on it. Resolves once a first kernel ran; rejects with the reason when
 * the mode cannot start.
 *
 * ```ts
 * const { mode } = await initGpu({ mode: "auto" }); // "headlessgl" under xvfb-run, else "webasm"
 * const y = x.to("gpu").matmul(w.to("gpu"));
 * ```
 */
export async function initGpu(options: GpuBackendOptions = {}): Promise<GpuInit> {
  const backend = new GpuBackend(options);
  await backend.ready();
  const mode = backend.activeMode;
  const kernelClass = backend.kernelClass;
  if (mode === null || kernelClass === null) throw new Error("GPU.js ran no kernel while starting");
  registerBackend(backend);
  return { backend, mode, kernelClass };
}

/** The GPU.js backend registered for device "gpu"; throws when another backend (or none) is. */
function registeredGpu(): GpuBackend {
  const backend = getBackend("gpu");
  if (!(backend instanceof GpuBackend)) {
    throw new Error('gpuStats: device "gpu" is not served by the GPU.js backend (start it with initGpu)');
  }
  return backend;
}

/**
 * What the registered "gpu" device did since the last `resetGpuStats`: host reads (each a
 * GPU→CPU round-trip that waits for the device), uploads and fills (host→device), and compute
 * kernel launches.
 *
 * ```ts
 * resetGpuStats();
 * step();
 * const { reads, uploads, launches } = gpuStats(); // a W4 training step: 0, 2, ≤ 60
 * ```
 */
export function gpuStats(): GpuStats {
  return registeredGpu().stats;
}

/** Sets the counters `gpuStats` reports back to zero. */
export function resetGpuStats(): void {
  registeredGpu().resetStats();
}
