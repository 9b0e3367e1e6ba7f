// The CPU kernels' worker pool: kernel modules on shared wasm memory, the thread count, and calls dispatched through a shared control block.
import {
  availableCores,
  blockingWaitUnavailableReason,
  spawnKernelWorker,
  threadCountSetting,
} from "#kernel-worker";
import {
  createSharedMemory,
  type EmittedFunction,
  emitModule,
  instantiate,
  type WasmInstance,
  type WasmMemory,
} from "./wasm-module.ts";

/** Most threads `setNumThreads` accepts (the control block has a slot per worker). */
export const MAX_THREADS = 64;

// The control block, an Int32Array over a SharedArrayBuffer. Slot 0 counts the workers still
// running the current round; slot 1 is set when a kernel threw on a worker. Worker i owns one
// 64-byte line from byte 64·(i + 1): its job counter (bumped to start a round) and its ready flag.
const PENDING = 0;
const FAILED = 1;
const SLOT_INTS = 16;
const READY_OFFSET = 1;
/** Doubles of commands per worker and round: `[calls, (module, function, argument count, arguments…)…]`. */
const COMMAND_CAPACITY = 4096;
const CONTROL_BYTES = (MAX_THREADS + 1) * SLOT_INTS * 4;
/**
 * Checks of a counter before blocking on it (tens of microseconds): waking a thread blocked in
 * `Atomics.wait` took 20–40 µs on the benchmark machine, and kernel calls often come in runs.
 */
const SPIN_CHECKS = 20000;

/**
 * The worker's program, plain JavaScript evaluated as is (so no file has to be resolved from
 * src/ or dist/): `start(init)` instantiates the posted modules on their shared memories, sets its
 * ready flag, then loops forever — wait for its job counter to move, run its commands, count
 * itself done. A kernel call therefore costs no message, only an `Atomics.notify`.
 */
const WORKER_PROGRAM = `"use strict";
function start({ control: buffer, index, modules }) {
  const control = new Int32Array(buffer);
  const commands = new Float64Array(buffer, ${CONTROL_BYTES} + index * ${COMMAND_CAPACITY * 8}, ${COMMAND_CAPACITY});
  const kernels = modules.map(({ bytes, memory, names }) => {
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    return names.map((name) => exports[name]);
  });
  const job = (index + 1) * ${SLOT_INTS};
  Atomics.store(control, job + ${READY_OFFSET}, 1);
  let seen = Atomics.load(control, job);
  for (;;) {
    for (let spin = 0; spin < ${SPIN_CHECKS} && Atomics.load(control, job) === seen; spin++);
    Atomics.wait(control, job, seen);
    const current = Atomics.load(control, job);
    if (current === seen) continue;
    seen = current;
    try {
      for (let call = 0, at = 1; call < commands[0]; call++) {
        const [module, kernel, count] = [commands[at], commands[at + 1], commands[at + 2]];
        kernels[module][kernel](...commands.subarray(at + 3, at + 3 + count));
        at += 3 + count;
      }
    } catch {
      Atomics.store(control, ${FAILED}, 1);
    }
    if (Atomics.sub(control, ${PENDING}, 1) === 1) Atomics.notify(control, ${PENDING});
  }
}`;

/** A started worker, as the platform's `#kernel-worker` entry returns it. */
export interface KernelWorker {
  terminate(): void;
}

/** The message a kernel worker starts from. */
export interface KernelWorkerInit {
  readonly control: SharedArrayBuffer;
  /** The worker's index: its control slot and command buffer. */
  readonly index: number;
  readonly modules: readonly {
    readonly bytes: Uint8Array<ArrayBuffer>;
    readonly memory: WasmMemory;
    readonly names: readonly string[];
  }[];
}

/** A function of a kernel module: callable here (`run`), or on a worker by its module and function index. */
export interface PoolKernel {
  readonly module: number;
  readonly index: number;
  readonly run: (...args: number[]) => void;
}

/** One call of a kernel with its arguments. */
export interface KernelCall {
  readonly kernel: PoolKernel;
  readonly args: readonly number[];
}

/** A kernel module instantiated for the pool: its instance here, its kernels by name, and whether workers can run it. */
export interface KernelModule {
  readonly instance: WasmInstance;
  readonly kernels: ReadonlyMap<string, PoolKernel>;
  /** True when its memory is shared, so workers run its kernels on the same memory. */
  readonly threaded: boolean;
}

const sharedModules: KernelWorkerInit["modules"][number][] = [];
/** Why threads are unavailable in this context, once known (undefined: they are available). */
let unavailableReason: string | undefined;
let supportChecked = false;

function threadSupport(): string | undefined {
  if (!supportChecked) {
    supportChecked = true;
    unavailableReason = blockingWaitUnavailableReason();
  }
  return unavailableReason;
}

/**
 * Emits and instantiates a kernel module: on a fresh shared memory that the pool's workers also
 * instantiate it on where threads are available here, on its own memory otherwise (no WebAssembly
 * SIMD: undefined).
 */
export function instantiateKernelModule(functions: readonly EmittedFunction[]): KernelModule | undefined {
  const names = functions.map((f) => f.name);
  const memory = threadSupport() === undefined ? createSharedMemory() : undefined;
  if (typeof memory === "string") unavailableReason = memory;
  const shared = memory !== undefined && typeof memory !== "string";
  const bytes = emitModule(functions, { sharedMemory: shared });
  const instance = shared ? instantiate(bytes, memory) : instantiate(bytes);
  if (instance === undefined) return undefined;
  const module = shared ? sharedModules.push({ bytes, memory, names }) - 1 : -1;
  const kernels = new Map<string, PoolKernel>();
  for (const [index, name] of names.entries()) {
    const run = instance.functions.get(name);
    if (run === undefined) throw new Error(`a normgrad wasm module lacks its \`${name}\` export`);
    kernels.set(name, { module, index, run });
  }
  return { instance, kernels, threaded: shared };
}

/** The thread count asked for: `setNumThreads`, else NORMGRAD_NUM_THREADS, else the cores (read once). */
let requestedThreads: number | undefined;

function validThreadCount(value: number, source: string): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_THREADS) {
    throw new RangeError(`${source} must be an integer from 1 to ${MAX_THREADS}, got ${String(value)}`);
  }
  return value;
}

function requested(): number {
  if (requestedThreads === undefined) {
    const setting = threadCountSetting();
    requestedThreads =
      setting === undefined
        ? Math.min(availableCores(), MAX_THREADS)
        : validThreadCount(Number(setting.value), `${setting.name} ("${setting.value}")`);
  }
  return requestedThreads;
}

/**
 * Sets the number of threads the CPU backend's kernels use (float32 matmul and convolutions):
 * `n − 1` worker threads join the calling thread on products large enough to pay for the
 * synchronization. Default: `NORMGRAD_NUM_THREADS` in Node, else the number of cores
 * (`os.availableParallelism()`, `navigator.hardwareConcurrency`). Results do not depend on it.
 * Where threads are unavailable the count is kept but {@link getNumThreads} reports 1 (see
 * {@link getThreadsUnavailableReason}). Throws a RangeError unless `n` is an integer from 1 to 64.
 */
export function setNumThreads(n: number): void {
  requestedThreads = validThreadCount(n, "setNumThreads(n): n");
  if (workers.length !== requestedThreads - 1) stopWorkers();
}

/**
 * The number of threads the CPU backend's kernels use: the count set by {@link setNumThreads} (or
 * its default), or 1 where threads are unavailable in this context or a worker failed to start.
 */
export function getNumThreads(): number {
  return getThreadsUnavailableReason() === undefined ? requested() : 1;
}

/**
 * Why {@link getNumThreads} reports 1 whatever was asked, or undefined when threads are available:
 * a browser's main thread (it may not block in `Atomics.wait`; run normgrad in a Web Worker), a
 * page without cross-origin isolation (no SharedArrayBuffer), no WebAssembly SIMD, or a worker
 * that failed to start.
 */
export function getThreadsUnavailableReason(): string | undefined {
  if (threadSupport() !== undefined) return unavailableReason;
  return sharedModules.length === 0 ? "WebAssembly SIMD is unavailable" : workerFailure;
}

// ---- the workers -------------------------------------------------------------------------------

let workers: KernelWorker[] = [];
/** The control block of the running workers (created with them: a browser page may have no SharedArrayBuffer). */
let control: Int32Array<SharedArrayBuffer> | undefined;
let commandBuffers: Float64Array<SharedArrayBuffer>[] = [];
/** The modules the running workers were started with: a module added later restarts them. */
let workerModuleCount = 0;
let workerFailure: string | undefined;

function stopWorkers(): void {
  for (const worker of workers) worker.terminate();
  workers = [];
  commandBuffers = [];
}

function startWorkers(count: number): void {
  const buffer = new SharedArrayBuffer(CONTROL_BYTES + count * COMMAND_CAPACITY * 8);
  control = new Int32Array(buffer);
  commandBuffers = Array.from(
    { length: count },
    (_, index) => new Float64Array(buffer, CONTROL_BYTES + index * COMMAND_CAPACITY * 8, COMMAND_CAPACITY),
  );
  workerModuleCount = sharedModules.length;
  const onError = (message: string): void => {
    workerFailure = `a kernel worker failed: ${message}`;
  };
  workers = commandBuffers.map((_, index) =>
    spawnKernelWorker(WORKER_PROGRAM, { control: buffer, index, modules: [...sharedModules] }, onError),
  );
}

/** Starts the workers for the current thread count if they are not running, and returns how many are ready. */
function readyWorkers(): number {
  const wanted = getNumThreads() - 1;
  if (workerFailure !== undefined || wanted === 0) return 0;
  if (workers.length !== wanted || workerModuleCount !== sharedModules.length) {
    stopWorkers();
    startWorkers(wanted);
  }
  let ready = 0;
  while (
    control !== undefined &&
    ready < workers.length &&
    Atomics.load(control, (ready + 1) * SLOT_INTS + READY_OFFSET) === 1
  )
    ready++;
  return ready;
}

/**
 * Resolves once every worker of the current thread count has started (at once with one thread);
 * rejects with the error of a worker that failed to start.
 * Kernels never wait for workers: until they are ready, calls run on fewer threads, with the same
 * results. Benchmarks and tests await this to measure or exercise the threads from the first call.
 */
export async function whenThreadsReady(): Promise<void> {
  for (;;) {
    if (workerFailure !== undefined) throw new Error(workerFailure);
    if (readyWorkers() >= getNumThreads() - 1) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * How many threads to split work into: `units` of work (rows, panels) with at least `minimumUnits`
 * each, no more than the thread count and the ready workers allow, at least 1. 1 for a module
 * on unshared memory.
 */
export function threadsFor(module: KernelModule, units: number, minimumUnits: number): number {
  if (!module.threaded || units < 2 * minimumUnits) return 1;
  return Math.max(1, Math.min(Math.floor(units / minimumUnits), 1 + readyWorkers()));
}

/** Writes calls from `next` into a worker's command buffer until it is full; returns where it stopped. */
function writeCommands(buffer: Float64Array, calls: readonly KernelCall[], next: number): number {
  let at = 1;
  let call = next;
  for (; call < calls.length; call++) {
    const { kernel, args } = calls[call];
    if (at + 3 + args.length > COMMAND_CAPACITY) break;
    buffer[at] = kernel.module;
    buffer[at + 1] = kernel.index;
    buffer[at + 2] = args.length;
    buffer.set(args, at + 3);
    at += 3 + args.length;
  }
  buffer[0] = call - next;
  return call;
}

/**
 * Runs `plans[0]` on this thread and `plans[t]` on worker t − 1 (t < {@link threadsFor}'s count),
 * each plan's calls in order, and returns when all are done. Plans must touch disjoint memory.
 */
export function runOnThreads(plans: readonly (readonly KernelCall[])[]): void {
  if (plans.length <= 1) {
    for (const { kernel, args } of plans[0] ?? []) kernel.run(...args);
    return;
  }
  if (control === undefined || plans.length - 1 > readyWorkers()) {
    throw new Error(`runOnThreads got ${plans.length} plans for ${readyWorkers() + 1} ready threads`);
  }
  const next = plans.map(() => 0);
  let ranHere = false;
  while (!ranHere || plans.some((plan, t) => t > 0 && next[t] < plan.length)) {
    const started: number[] = [];
    for (let t = 1; t < plans.length; t++) {
      if (next[t] >= plans[t].length) continue;
      next[t] = writeCommands(commandBuffers[t - 1], plans[t], next[t]);
      started.push(t - 1);
    }
    Atomics.store(control, PENDING, started.length);
    for (const worker of started) {
      Atomics.add(control, (worker + 1) * SLOT_INTS, 1);
      Atomics.notify(control, (worker + 1) * SLOT_INTS);
    }
    if (!ranHere) {
      for (const { kernel, args } of plans[0]) kernel.run(...args);
      ranHere = true;
    }
    for (let spin = 0; spin < SPIN_CHECKS && Atomics.load(control, PENDING) !== 0; spin++);
    for (
      let pending = Atomics.load(control, PENDING);
      pending !== 0;
      pending = Atomics.load(control, PENDING)
    ) {
      Atomics.wait(control, PENDING, pending);
    }
    if (Atomics.exchange(control, FAILED, 0) !== 0)
      throw new Error("a wasm kernel failed on a worker thread");
  }
}
