// Checks of tensor values (index ranges, finiteness): at once on synchronous devices, else reported by the next read.
import type { Device } from "./backend.ts";
import type { TypedArray } from "./dtype.ts";
import type { Tensor } from "./tensor.ts";

/** Looks at the values of the checked tensors (in the order given) and returns the error to report, or null. */
export type ValueCheck = (values: readonly TypedArray[]) => Error | null;

/** Outcomes of checks still waiting for their values, per device; each settles to its error or null. */
const pending = new Map<Device, Promise<Error | null>[]>();

/**
 * Runs `check` on the values of `tensors` (all on one device) and throws the error it returns.
 *
 * Where the device reads synchronously (the CPU, GPU.js's synchronous modes) this happens now.
 * Where it does not (GPU.js webgpu, webasm with threads) the values are read in the background
 * and a failed check is thrown by the next `await data()` on that device, the way CUDA reports a
 * device-side assert at the next synchronization. Callers that must not act on bad values then
 * also guard the action on the device (BatchNorm masks its running-statistic update).
 */
export function checkValues(tensors: readonly Tensor[], check: ValueCheck): void {
  const device = tensors[0]?.device;
  if (device === undefined) return;
  const backend = tensors[0].backend;
  if (backend.readsSynchronously) {
    const error = check(tensors.map((t) => backend.read(t.kernelView)));
    if (error !== null) throw error;
    return;
  }
  // Reads start now, while the tensors are alive; the caller may dispose them right after.
  const outcome = Promise.all(tensors.map((t) => backend.readAsync(t.kernelView))).then(
    check,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  const queue = pending.get(device) ?? [];
  queue.push(outcome);
  pending.set(device, queue);
}

/** Waits for the checks started on `device` and throws the first failure (each failure is reported once). */
export async function settleValueChecks(device: Device): Promise<void> {
  const queue = pending.get(device);
  if (queue === undefined || queue.length === 0) return;
  pending.delete(device);
  const errors = await Promise.all(queue);
  const first = errors.find((error) => error !== null);
  if (first !== undefined && first !== null) throw first;
}
