// DataLoader: batches of a dataset, in order or shuffled by a seeded generator, the last partial batch kept or dropped, moved to a device on request.
import {
  type Device,
  defaultGenerator,
  formatValue,
  type Generator,
  getBackend,
  randperm,
  type Tensor,
} from "@normgrad/core";
import type { Dataset } from "./dataset.ts";

/** Options of `DataLoader` (PyTorch's names in camelCase). */
export interface DataLoaderOptions {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Draw a new random order every epoch (default false: dataset order). */
  shuffle?: boolean;
  /** Drop the last batch when it has fewer than `batchSize` samples (default false: keep it). */
  dropLast?: boolean;
  /**
   * The random stream that orders the samples when shuffling. Default: the global generator
   * (seed it with `manualSeed`). Pass `new Generator(seed)` to make the order depend on that seed only.
   */
  generator?: Generator;
  /**
   * Where the batches are delivered: each batch tensor not already there is moved with
   * `.to(device)` and its source copy disposed (PyTorch's `x.to(device)` at the top of the loop,
   * done once here). Default: none, batches stay on the dataset's device. `"gpu"` needs the
   * backend registered first (`await initGpu()` from `@normgrad/gpu`).
   */
  device?: Device;
}

/** The devices a loader can deliver to (core's `Device` type, as values to check against). */
const DEVICES: readonly Device[] = ["cpu", "gpu"];

/** Throws unless `device` names a device with a registered backend; the message names the value. */
function assertUsableDevice(device: Device): void {
  // Checked at run time too: JavaScript callers and casts can pass any string.
  if (!DEVICES.some((known) => known === device)) {
    throw new RangeError(
      `DataLoader: device must be one of ${DEVICES.map((d) => JSON.stringify(d)).join(", ")}, got ${formatValue(device)}`,
    );
  }
  try {
    getBackend(device);
  } catch (error) {
    throw new Error(`DataLoader: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}

/** `batch` with every tensor on `device`; moved tensors' sources are disposed, also when a move fails. */
function moveBatch(batch: Tensor[], device: Device): Tensor[] {
  const moved: Tensor[] = [];
  try {
    for (const t of batch) moved.push(t.to(device));
  } catch (error) {
    for (const t of moved) if (!batch.includes(t)) t.dispose();
    for (const t of batch) t.dispose();
    throw error;
  }
  // `to` returns the tensor itself when it is already there: only the copies' sources go.
  batch.forEach((t, k) => {
    if (moved[k] !== t) t.dispose();
  });
  return moved;
}

/**
 * Iterates over a dataset in batches: `for (const [x, y] of loader)`. Each pass is one epoch;
 * with `shuffle` each epoch's order is `randperm(length, { generator })`, so the same seed gives
 * the same batches. Batches are collated by `dataset.getBatch`, then moved to `device` when one
 * is given (`new DataLoader(dataset, { batchSize: 64, device: "gpu" })` feeds a model on the GPU).
 * The caller owns each batch and disposes it (as `fit` does).
 */
export class DataLoader implements Iterable<Tensor[]> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  /** The device batches are moved to, or undefined when they stay where the dataset makes them. */
  readonly device: Device | undefined;
  readonly #generator: Generator | undefined;

  constructor(
    readonly dataset: Dataset,
    { batchSize = 1, shuffle = false, dropLast = false, generator, device }: DataLoaderOptions = {},
  ) {
    if (!Number.isInteger(batchSize) || batchSize <= 0) {
      throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    }
    if (device !== undefined) assertUsableDevice(device);
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.device = device;
    this.#generator = generator;
  }

  /** Batches per epoch: ⌈n/batchSize⌉, or ⌊n/batchSize⌋ with `dropLast`. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The sample indices of one epoch, in the order they will be batched. */
  #epochOrder(): number[] {
    const n = this.dataset.length;
    if (!this.shuffle) return Array.from({ length: n }, (_, i) => i);
    const permutation = randperm(n, { generator: this.#generator ?? defaultGenerator() });
    const order = Array.from(permutation.dataSync());
    permutation.dispose();
    return order;
  }

  /** One epoch of batches, reshuffled on every iteration when `shuffle` is set. */
  *[Symbol.iterator](): Iterator<Tensor[]> {
    const order = this.#epochOrder();
    for (let batch = 0; batch < this.length; batch++) {
      const tensors = this.dataset.getBatch(
        order.slice(batch * this.batchSize, (batch + 1) * this.batchSize),
      );
      yield this.device === undefined ? tensors : moveBatch(tensors, this.device);
    }
  }
}
