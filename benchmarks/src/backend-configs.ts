// The normgrad configurations a benchmark runs on: the CPU backend, and GPU.js modes when @normgrad/gpu exists.
import {
  type Device,
  getNumThreads,
  getThreadsUnavailableReason,
  setNumThreads,
  type Tensor,
  whenThreadsReady,
} from "@normgrad/core";

/** The `--backend` names. */
export type BackendName = "cpu" | "gpu-webasm" | "gpu-webasm-async" | "gpu-headlessgl";

/** The GPU.js modes the GPU backend is benchmarked in. */
type GpuMode = "webasm" | "headlessgl";

/** One normgrad configuration: where tensors live and how a timed call waits for its results. */
export interface BackendConfig {
  name: BackendName;
  /** The `config` of its result file (`normgrad-cpu`, …), as the peers name theirs. */
  config: string;
  device: Device;
  /** Threads the computation uses (`setNumThreads` on the CPU backend). */
  threads: number;
  description: string;
  /** Gets the device ready; resolves to null when it is, or to the reason it cannot run here. */
  prepare(): Promise<string | null>;
  /**
   * Waits until `tensors` are computed: nothing on the eager CPU backend, a read on GPU modes
   * (their kernels stay queued or resident until read), awaited in the asynchronous mode.
   */
  settle(tensors: readonly Tensor[]): void | Promise<void>;
}

/** Sets the CPU backend's thread count and waits for its workers; a count it cannot run is a skip reason. */
async function prepareCpu(threads: number): Promise<string | null> {
  setNumThreads(threads);
  try {
    await whenThreadsReady();
  } catch (error) {
    return errorMessage(error);
  }
  if (getNumThreads() === threads) return null;
  return `the CPU backend runs ${getNumThreads()} thread(s) here: ${getThreadsUnavailableReason() ?? "unknown reason"}`;
}

/** The CPU backend with `threads` threads: `normgrad-cpu` for one (as the peers' one-thread files), `normgrad-cpu-t<threads>` otherwise. */
function cpuConfig(threads: number): BackendConfig {
  return {
    name: "cpu",
    config: threads === 1 ? "normgrad-cpu" : `normgrad-cpu-t${threads}`,
    device: "cpu",
    threads,
    description: `normgrad CPU backend, float32, ${threads === 1 ? "1 thread" : `${threads} threads (setNumThreads)`}`,
    prepare: () => prepareCpu(threads),
    settle: () => {},
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Starts `@normgrad/gpu` (loaded on first use: GPU.js is large and the CPU configurations do not
 * need it) with `initGpu({ mode, threads })`, which registers the `gpu` backend. A mode that
 * cannot start, or that GPU.js silently replaced by another one, is a skip reason rather than a
 * mislabelled result.
 */
async function prepareGpu(mode: GpuMode, threads: boolean): Promise<string | null> {
  try {
    const { initGpu } = await import("@normgrad/gpu");
    const started = await initGpu({ mode, threads });
    return started.mode === mode ? null : `GPU.js was asked for ${mode} but ran ${started.mode}`;
  } catch (error) {
    return errorMessage(error);
  }
}

function gpuConfig(name: BackendName, mode: GpuMode, asynchronous: boolean): BackendConfig {
  // GPU.js's webasm mode reads results asynchronously exactly when it runs on its worker pool.
  return {
    name,
    config: `normgrad-${name}`,
    device: "gpu",
    threads: 1,
    description: `normgrad GPU.js backend, ${mode} mode${asynchronous ? " on its worker pool (asynchronous reads)" : ""}, float32`,
    prepare: () => prepareGpu(mode, asynchronous),
    settle: asynchronous
      ? async (tensors) => {
          await Promise.all(tensors.map((t) => t.data()));
        }
      : (tensors) => {
          for (const t of tensors) t.dataSync();
        },
  };
}

/** Every configuration `pnpm bench` tries, in the order it runs them. */
export const BACKEND_CONFIGS: readonly BackendConfig[] = [
  cpuConfig(1),
  cpuConfig(2),
  gpuConfig("gpu-webasm", "webasm", false),
  gpuConfig("gpu-webasm-async", "webasm", true),
  gpuConfig("gpu-headlessgl", "headlessgl", false),
];

/** True when `name` is one of the `--backend` names. */
export function isBackendName(name: string): name is BackendName {
  return BACKEND_CONFIGS.some((config) => config.name === name);
}
