// The backend behind each device: CPU always, others registered by their packages.
import type { Backend, Device } from "./backend.ts";
import { CpuBackend } from "./cpu/cpu-backend.ts";
import { formatValue } from "./format.ts";

const backends: { [D in Device]: Backend | null } = { cpu: new CpuBackend(), gpu: null };

/** Makes `backend` the one that runs tensors on `backend.device` (how `@normgrad/gpu` plugs in). */
export function registerBackend(backend: Backend): void {
  backends[backend.device] = backend;
}

/** The backend for a device, or an error saying how to get it. */
export function getBackend(device: Device): Backend {
  // JavaScript callers can pass anything ("cuda"), which would fail later with an engine TypeError.
  if (device !== "cpu" && device !== "gpu") {
    throw new TypeError(`unknown device ${formatValue(device)}: expected "cpu" or "gpu"`);
  }
  const backend = backends[device];
  if (backend === null) {
    throw new Error(
      `device "${device}" has no backend: import and initialise @normgrad/gpu before using "gpu"`,
    );
  }
  return backend;
}

/** The number of live buffers on a device (leak tests: it must return to its start after `tidy`). */
export function liveBuffers(device: Device = "cpu"): number {
  return getBackend(device).liveBuffers();
}
