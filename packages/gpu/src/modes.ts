// GPU.js modes: which one to ask for, whether it can start here, and which one a kernel really ran on.
import {
  CPUKernel,
  GPU,
  HeadlessGLKernel,
  type Kernel,
  WebAssemblyKernel,
  WebGL2Kernel,
  WebGLKernel,
} from "gpu.js";

/**
 * The GPU.js mode to run: `auto` takes headlessgl (Node) or webgl2 (browsers) where a GL
 * context can be made, else webasm; the others are explicit and fail with the reason when they
 * cannot start.
 * - `headlessgl`: Node with the native `gl` package and a display (a real GPU, or Mesa's
 *   software rasterizer under `xvfb-run`);
 * - `webgl2`: browsers;
 * - `webgpu`: browsers, or Node with a `navigator.gpu` shim (results are asynchronous);
 * - `webasm`: WebAssembly with f32x4 SIMD, anywhere (`threads: true` adds a worker pool);
 * - `cpu`: GPU.js's JavaScript fallback (for debugging kernels).
 */
export type GpuMode = "auto" | "headlessgl" | "webgl2" | "webgpu" | "webasm" | "cpu";

/** The mode kernels actually run in (`webgl` only when a browser has WebGL 1 alone). */
export type ActiveMode = Exclude<GpuMode, "auto"> | "webgl";

/** Why headlessgl cannot start here, or null when it can. */
export function headlessGlUnavailableReason(): string | null {
  if (GPU.isHeadlessGLSupported) return null;
  const display = typeof process === "undefined" ? undefined : process.env.DISPLAY;
  if (display === undefined || display === "") {
    return "no X display: DISPLAY is unset (run under `xvfb-run -a`, with the native `gl` package built)";
  }
  return (
    `the native \`gl\` package could not make a context on display ${display}: is it built? ` +
    "(apt-get install -y libxi-dev, then let pnpm build gl: allowBuilds in pnpm-workspace.yaml)"
  );
}

/**
 * Why a mode cannot start here, or null when it may: a synchronous check of what the platform
 * offers. For `webgpu` it only sees whether `navigator.gpu` exists; the adapter GPU.js asks
 * for may still be missing (Node on stock Debian 12, headless Chromium), which only
 * `await webgpuUnavailableReason()` finds out.
 */
export function modeUnavailableReason(mode: Exclude<GpuMode, "auto">): string | null {
  switch (mode) {
    case "headlessgl":
      return headlessGlUnavailableReason();
    case "webgl2":
      return GPU.isWebGL2Supported ? null : "no WebGL2 context (webgl2 runs in browsers)";
    case "webgpu":
      return GPU.isWebGPUSupported
        ? null
        : "no navigator.gpu: WebGPU runs in browsers, or in Node with the `webgpu` package's globals " +
            "and `navigator.gpu` installed (and an adapter: Mesa ≥ 25 lavapipe or a real GPU)";
    case "webasm":
      return GPU.isWebAssemblySupported ? null : "this JavaScript engine has no WebAssembly";
    case "cpu":
      return null;
    default:
      return mode satisfies never;
  }
}

/** What to install where `navigator.gpu` exists but gives no adapter. */
const NO_ADAPTER =
  "navigator.gpu gave no adapter: WebGPU needs a GPU with Vulkan, Metal or D3D12 drivers, or a software " +
  "one (on Debian 12: Mesa ≥ 25 lavapipe, `apt-get install -t bookworm-backports mesa-vulkan-drivers`; " +
  "the stock Mesa 22 lavapipe gives none)";

/**
 * Why webgpu cannot start here, or null when it can: `navigator.gpu` must exist (a browser, or
 * Node with the `webgpu` package's globals and `navigator.gpu` installed) and give an adapter,
 * which this requests the way GPU.js will.
 */
export async function webgpuUnavailableReason(): Promise<string | null> {
  const reason = modeUnavailableReason("webgpu");
  if (reason !== null) return reason;
  return (await GPU.isWebGPUAvailable()) ? null : NO_ADAPTER;
}

/** The mode auto-selection takes here, and the reason it fell back to webasm (null when it did not). */
export function autoMode(): { mode: Exclude<GpuMode, "auto">; fallbackReason: string | null } {
  const gl = headlessGlUnavailableReason();
  if (gl === null) return { mode: "headlessgl", fallbackReason: null };
  if (GPU.isWebGL2Supported) return { mode: "webgl2", fallbackReason: null };
  return { mode: "webasm", fallbackReason: gl };
}

/** The mode a compiled kernel runs in, read from its class (GPU.js falls back silently otherwise). */
export function kernelMode(kernel: Kernel): ActiveMode {
  if (kernel instanceof HeadlessGLKernel) return "headlessgl";
  if (kernel instanceof WebGL2Kernel) return "webgl2";
  if (kernel instanceof WebGLKernel) return "webgl";
  if (kernel instanceof WebAssemblyKernel) return "webasm";
  if (kernel instanceof CPUKernel) return "cpu";
  // The WebGPU kernel class is not in gpu.js's typings; its static mode names it.
  const kernelClass: unknown = kernel.constructor;
  if (typeof kernelClass === "function" && "mode" in kernelClass && kernelClass.mode === "webgpu") {
    return "webgpu";
  }
  throw new Error(`unknown GPU.js kernel class ${kernel.constructor.name}`);
}
