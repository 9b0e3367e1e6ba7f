// Readies the device the study trains on: the CPU always; the GPU only through the optional @normgrad/gpu.
import { getBackend } from "@normgrad/core";
import type { StudyDevice } from "./study-config.ts";

/** The optional package that registers the "gpu" backend. Loaded by name at run time, never imported statically. */
export const GPU_PACKAGE = "@normgrad/gpu";

/** The device asked for cannot be used; the message says why and what to do instead. */
export class DeviceUnavailableError extends Error {
  override name = "DeviceUnavailableError";
}

/** What the study uses of @normgrad/gpu: `initGpu()` starts GPU.js and registers the backend. */
interface GpuModule {
  initGpu: () => Promise<{ mode: string; kernelClass: string }>;
}

function isGpuModule(module: unknown): module is GpuModule {
  return (
    typeof module === "object" &&
    module !== null &&
    "initGpu" in module &&
    typeof module.initGpu === "function"
  );
}

function isModuleNotFound(error: unknown): boolean {
  return (
    error instanceof Error &&
    "code" in error &&
    (error.code === "ERR_MODULE_NOT_FOUND" || error.code === "MODULE_NOT_FOUND") &&
    error.message.includes(GPU_PACKAGE)
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Makes `device` usable and describes it. `cpu` needs nothing. `gpu` loads {@link GPU_PACKAGE}
 * dynamically (so the study builds and runs without it), calls its `initGpu()` and checks that a
 * `gpu` backend is registered; each failure is an error that says what is missing and to use
 * `--device cpu`. `load` imports a module by name (replaceable in tests).
 */
export async function prepareDevice(
  device: StudyDevice,
  load: (specifier: string) => Promise<unknown> = (specifier) => import(specifier),
): Promise<string> {
  switch (device) {
    case "cpu":
      return "cpu (the core package's CPU backend)";
    case "gpu": {
      let module: unknown;
      try {
        module = await load(GPU_PACKAGE);
      } catch (error) {
        if (isModuleNotFound(error)) {
          throw new DeviceUnavailableError(
            `--device gpu needs the optional ${GPU_PACKAGE} package, which @normgrad/example-bn-placement ` +
              `cannot load (add "${GPU_PACKAGE}": "workspace:*" to its dependencies and run pnpm install); ` +
              "run with --device cpu",
          );
        }
        throw new DeviceUnavailableError(`--device gpu: loading ${GPU_PACKAGE} failed: ${messageOf(error)}`);
      }
      if (!isGpuModule(module)) {
        throw new DeviceUnavailableError(
          `--device gpu: ${GPU_PACKAGE} has no initGpu() function; run with --device cpu`,
        );
      }
      let started: Awaited<ReturnType<GpuModule["initGpu"]>>;
      try {
        started = await module.initGpu();
      } catch (error) {
        throw new DeviceUnavailableError(
          `--device gpu: ${GPU_PACKAGE} could not start: ${messageOf(error)}; run with --device cpu`,
        );
      }
      try {
        getBackend("gpu");
      } catch {
        throw new DeviceUnavailableError(
          `--device gpu: ${GPU_PACKAGE} started but registered no "gpu" backend; run with --device cpu`,
        );
      }
      return `gpu (${GPU_PACKAGE}, GPU.js ${started.mode} mode, ${started.kernelClass})`;
    }
    default:
      return device satisfies never;
  }
}
