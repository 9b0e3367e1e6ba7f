// Node: kernel worker threads (worker_threads), the core count and NORMGRAD_NUM_THREADS.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { KernelWorker, KernelWorkerInit } from "./thread-pool.ts";

/**
 * Starts a worker thread running `program` (plain JavaScript defining `start(init)`), hands it
 * `init`, and unrefs it: an idle worker, blocked in `Atomics.wait`, never keeps the process alive.
 */
export function spawnKernelWorker(
  program: string,
  init: KernelWorkerInit,
  onError: (message: string) => void,
): KernelWorker {
  // Evaluated source rather than a file: nothing to resolve from src/ (TypeScript) or dist/ alike.
  const source = `${program}\nrequire("node:worker_threads").parentPort.once("message", start);\n`;
  const worker = new Worker(source, { eval: true });
  worker.on("error", (error) => onError(error.message));
  worker.postMessage(init);
  worker.unref();
  return {
    terminate: () => {
      void worker.terminate();
    },
  };
}

/** The cores this process may use (`os.availableParallelism()`). */
export function availableCores(): number {
  return availableParallelism();
}

/** `NORMGRAD_NUM_THREADS` as set in the environment, or undefined. */
export function threadCountSetting(): { name: string; value: string } | undefined {
  const value = process.env.NORMGRAD_NUM_THREADS;
  return value === undefined || value === "" ? undefined : { name: "NORMGRAD_NUM_THREADS", value };
}

/** Why this thread cannot drive kernel workers, or undefined: Node's threads can always block in `Atomics.wait`. */
export function blockingWaitUnavailableReason(): string | undefined {
  return undefined;
}
