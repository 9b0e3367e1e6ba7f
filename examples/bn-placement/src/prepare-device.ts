// Readies the device the study trains on: the CPU always; the GPU only through the optional @normgrad/gpu.
import { getBackend } from "@normgrad/core";
import type { GpuInit } from "@normgrad/gpu";
import type { StudyDevice } from "./study-config.ts";

/** The package that registers the "gpu" backend (loaded only when the study trains on the GPU). */
export const GPU_PACKAGE = "@normgrad/gpu";

/** The device asked for cannot be used; the message says why and what to do instead. */
export class DeviceUnavailableError extends Error {
  override name = "DeviceUnavailableError";
}

/** Starts GPU.js and registers the "gpu" backend: `initGpu()` of @normgrad/gpu, loaded on first use. */
export type GpuStarter = () => Promise<Pick<GpuInit, "mode" | "kernelClass">>;

const startGpu: GpuStarter = async () => {
  // Loaded lazily: GPU.js is large, and a CPU run should not pay for it.
  const { initGpu } = await import("@normgrad/gpu");
  return initGpu();
};

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Makes `device` usable and describes it. `cpu` needs nothing. `gpu` starts @normgrad/gpu
 * (`start`, replaceable in tests) and checks that a `gpu` backend is registered; each failure is
 * an error that says what went wrong and to use `--device cpu`.
 */
export async function prepareDevice(device: StudyDevice, start: GpuStarter = startGpu): Promise<string> {
  switch (device) {
    case "cpu":
      return "cpu (the core package's CPU backend)";
    case "gpu": {
      let started: Awaited<ReturnType<GpuStarter>>;
      try {
        started = await start();
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
