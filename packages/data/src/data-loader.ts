// DataLoader: batches of a dataset, in order or shuffled by a seeded generator, the last partial batch kept or dropped.
import { defaultGenerator, type Generator, randperm, type Tensor } from "@normgrad/core";
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
}

/**
 * Iterates over a dataset in batches: `for (const [x, y] of loader)`. Each pass is one epoch;
 * with `shuffle` each epoch's order is `randperm(length, { generator })`, so the same seed gives
 * the same batches. Batches are collated by `dataset.getBatch`.
 */
export class DataLoader implements Iterable<Tensor[]> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly #generator: Generator | undefined;

  constructor(
    readonly dataset: Dataset,
    { batchSize = 1, shuffle = false, dropLast = false, generator }: DataLoaderOptions = {},
  ) {
    if (!Number.isInteger(batchSize) || batchSize <= 0) {
      throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    }
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
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

  *[Symbol.iterator](): Iterator<Tensor[]> {
    const order = this.#epochOrder();
    for (let batch = 0; batch < this.length; batch++) {
      yield this.dataset.getBatch(order.slice(batch * this.batchSize, (batch + 1) * this.batchSize));
    }
  }
}
