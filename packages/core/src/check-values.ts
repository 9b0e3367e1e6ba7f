// Checks of tensor values (index ranges, finiteness): at once on the CPU, at the next read on other devices.
import { noGrad } from "./autograd.ts";
import type { Device } from "./backend.ts";
import type { TypedArray } from "./dtype.ts";
import { keep, tidy } from "./memory.ts";
import type { Tensor } from "./tensor.ts";

/** Looks at the values of the checked tensors (in the order given) and returns the error to report, or null. */
export type ValueCheck = (values: readonly TypedArray[]) => Error | null;

/** A check recorded on a device: its flag (> 0: failed), and the tensors and check that explain a failure. */
interface DeferredCheck {
  readonly flag: Tensor;
  readonly tensors: readonly Tensor[];
  readonly check: ValueCheck;
}

/** Checks recorded per device and not yet settled. */
const deferred = new Map<Device, DeferredCheck[]>();

/** Outcomes of batches of checks being read in the background (asynchronous devices), per device. */
const settling = new Map<Device, Promise<Error | null>[]>();

/** Checks a device keeps before it settles them unasked, so memory stays bounded when nothing is read. */
const MAX_DEFERRED = 64;

/**
 * Checks the values of `tensors` (all on one device) with `check`, and throws the error it returns.
 *
 * On the CPU this happens now. On other devices nothing is read: `flag()` computes on the device
 * a one-element tensor that is positive where the check fails, and the flags are read together
 * when the program next reads a value on that device (`dataSync`, `item`, `await data()`) or
 * calls `synchronize` — CUDA's device-side assert model. Only a set flag reads `tensors` to name
 * the offending values. Callers that must not act on bad values also guard the action on the
 * device (BatchNorm masks its running-statistic update).
 */
export function checkValues(tensors: readonly Tensor[], check: ValueCheck, flag: () => Tensor): void {
  const device = tensors[0]?.device;
  if (device === undefined) return;
  if (device === "cpu") {
    const backend = tensors[0].backend;
    const error = check(tensors.map((t) => backend.read(t.kernelView)));
    if (error !== null) throw error;
    return;
  }
  // The flag and views of the tensors outlive the caller's tidy until the check settles.
  const recorded = noGrad(() => ({
    flag: keep(flag()),
    tensors: tensors.map((t) => keep(t.detach())),
    check,
  }));
  const queue = deferred.get(device) ?? [];
  queue.push(recorded);
  deferred.set(device, queue);
  if (queue.length < MAX_DEFERRED) return;
  if (recorded.flag.backend.readsSynchronously) {
    settleValueChecksSync(device);
  } else {
    deferred.delete(device);
    const outcomes = settling.get(device) ?? [];
    outcomes.push(firstFailure(queue));
    settling.set(device, outcomes);
  }
}

/** The checks' flags folded into one (largest) on their device. */
function combinedFlag(checks: readonly DeferredCheck[]): Tensor {
  // tidy frees the partial maxima; the flags themselves were made outside it.
  return noGrad(() =>
    tidy(() => checks.slice(1).reduce((all, { flag }) => all.maximum(flag), checks[0].flag)),
  );
}

function disposeChecks(checks: readonly DeferredCheck[], combined: Tensor): void {
  if (combined !== checks[0].flag) combined.dispose();
  for (const { flag, tensors } of checks) {
    flag.dispose();
    for (const t of tensors) t.dispose();
  }
}

/** Reads the checks' flags once and, if one is set, the details of the failed checks: the first error. */
async function firstFailure(checks: readonly DeferredCheck[]): Promise<Error | null> {
  const combined = combinedFlag(checks);
  try {
    const [any] = await combined.backend.readAsync(combined.kernelView);
    if (!(any > 0)) return null;
    for (const { flag, tensors, check } of checks) {
      const [failed] = await flag.backend.readAsync(flag.kernelView);
      if (!(failed > 0)) continue;
      const values = await Promise.all(tensors.map((t) => t.backend.readAsync(t.kernelView)));
      const error = check(values);
      if (error !== null) return error;
    }
    return null;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    disposeChecks(checks, combined);
  }
}

/** Settles the checks recorded on a synchronous `device` now (the flags are one read) and throws the first failure. */
export function settleValueChecksSync(device: Device): void {
  const checks = deferred.get(device);
  if (checks === undefined || checks.length === 0) return;
  // The checks' own backend: the device may have been given a new one since they were recorded.
  const { backend } = checks[0].flag;
  if (!backend.readsSynchronously) return;
  deferred.delete(device);
  const combined = combinedFlag(checks);
  try {
    const [any] = backend.read(combined.kernelView);
    if (!(any > 0)) return;
    for (const { flag, tensors, check } of checks) {
      if (!(backend.read(flag.kernelView)[0] > 0)) continue;
      const error = check(tensors.map((t) => backend.read(t.kernelView)));
      if (error !== null) throw error;
    }
  } finally {
    disposeChecks(checks, combined);
  }
}

/** Waits for every check recorded on `device` and throws the first failure (each failure is reported once). */
export async function settleValueChecks(device: Device): Promise<void> {
  const checks = deferred.get(device);
  deferred.delete(device);
  const outcomes = settling.get(device) ?? [];
  settling.delete(device);
  if (checks !== undefined && checks.length > 0) outcomes.push(firstFailure(checks));
  const errors = await Promise.all(outcomes);
  const first = errors.find((error) => error !== null);
  if (first !== undefined && first !== null) throw first;
}

/**
 * Reads the flags of the value checks recorded on `device` so far and throws the first failure
 * (an index out of range, non-finite BatchNorm statistics; see `checkValues`), where
 * `torch.cuda.synchronize()` surfaces a device-side assert. The CPU checks at once: nothing to do.
 *
 * ```ts
 * F.crossEntropy(logits, target); // target 12 with 10 classes: nothing thrown yet on "gpu"
 * await synchronize("gpu");       // RangeError: crossEntropy: target 12 is out of bounds …
 * ```
 */
export async function synchronize(device: Device): Promise<void> {
  await settleValueChecks(device);
}
