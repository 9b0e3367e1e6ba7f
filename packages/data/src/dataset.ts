// Datasets: the Dataset base class (indexed samples of tensors), TensorDataset, Subset and ConcatDataset.
import { formatShape, stack, type Tensor, tensor, tidy } from "@normgrad/core";

/**
 * A map-style dataset (PyTorch's `Dataset`): `length` samples, sample `i` from `get(i)`, each a
 * list of tensors such as `[image, label]`. `getBatch` collates several samples; the default
 * stacks each component along a new first dim, and subclasses override it when they can slice
 * a whole batch at once (as `TensorDataset` does).
 */
export abstract class Dataset {
  /** Number of samples. */
  abstract get length(): number;

  /** Sample `index` (0 ≤ index < length). */
  abstract get(index: number): Tensor[];

  /** The samples at `indices`, collated: component k of the result stacks component k of each sample. */
  getBatch(indices: readonly number[]): Tensor[] {
    if (indices.length === 0) throw new RangeError("getBatch needs at least one index");
    // tidy releases the individual samples; only the stacked batch survives.
    return tidy(() => {
      const samples = indices.map((index) => this.get(index));
      const width = samples[0].length;
      if (samples.some((sample) => sample.length !== width)) {
        throw new Error(
          `getBatch: samples have different numbers of tensors (${samples.map((s) => s.length).join(", ")})`,
        );
      }
      return samples[0].map((_, k) => stack(samples.map((sample) => sample[k])));
    });
  }
}

/** Throws unless `index` is an integer in [0, length). */
function assertIndex(index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new RangeError(`index ${index} is out of range for a dataset of ${length} samples`);
  }
}

/**
 * A dataset over tensors that share their first dim: sample i is `[t0[i], t1[i], …]`
 * (PyTorch's `TensorDataset`). Batches are gathered with one `indexSelect` per tensor, on the
 * tensor's own device: a dataset of GPU tensors yields GPU batches without a round trip.
 */
export class TensorDataset extends Dataset {
  readonly tensors: readonly Tensor[];

  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new Error("TensorDataset needs at least one tensor");
    const first = tensors[0].shape[0];
    if (tensors.some((t) => t.ndim === 0 || t.shape[0] !== first)) {
      throw new RangeError(
        `TensorDataset: tensors must share their first dim, got ${tensors.map((t) => formatShape(t.shape)).join(", ")}`,
      );
    }
    this.tensors = tensors;
  }

  get length(): number {
    return this.tensors[0].shape[0];
  }

  get(index: number): Tensor[] {
    assertIndex(index, this.length);
    return this.tensors.map((t) => t.narrow(0, index, 1).squeeze(0));
  }

  override getBatch(indices: readonly number[]): Tensor[] {
    if (indices.length === 0) throw new RangeError("getBatch needs at least one index");
    // tidy releases the index tensors and indexSelect's temporaries; the batch tensors survive.
    return tidy(() => {
      const rows = tensor(Int32Array.from(indices));
      // The gather runs where each tensor lives (a GPU tensor needs its indices on the GPU);
      // `to` is a no-op for tensors on the CPU.
      return this.tensors.map((t) => t.indexSelect(0, rows.to(t.device)));
    });
  }
}

/** `index` in [0, length), a negative one counted from the end (Python's `list[-1]`); throws otherwise. */
function resolveIndex(where: string, index: number, length: number): number {
  if (!Number.isInteger(index) || index < -length || index >= length) {
    throw new RangeError(`${where}: index ${index} is out of range for a dataset of ${length} samples`);
  }
  return index < 0 ? index + length : index;
}

/**
 * The samples of `dataset` at `indices`, in that order (PyTorch's `Subset`): sample i is
 * `dataset.get(indices[i])`. Negative indices count from the end, as in PyTorch (a Python list).
 * Batches go through the dataset's own `getBatch`, so a subset of a TensorDataset still gathers
 * a batch with one `indexSelect` per tensor.
 */
export class Subset extends Dataset {
  readonly indices: readonly number[];

  constructor(
    readonly dataset: Dataset,
    indices: Iterable<number>,
  ) {
    super();
    this.indices = [...indices];
    this.indices.forEach((index) => {
      resolveIndex("Subset", index, dataset.length);
    });
  }

  get length(): number {
    return this.indices.length;
  }

  get(index: number): Tensor[] {
    return this.dataset.get(this.#source(index));
  }

  override getBatch(indices: readonly number[]): Tensor[] {
    if (indices.length === 0) throw new RangeError("getBatch needs at least one index");
    return this.dataset.getBatch(indices.map((index) => this.#source(index)));
  }

  /** The index in `dataset` of this subset's sample `index`. */
  #source(index: number): number {
    const source = this.indices[resolveIndex("Subset", index, this.length)];
    return source < 0 ? source + this.dataset.length : source;
  }
}

/**
 * Datasets one after the other (PyTorch's `ConcatDataset`): samples 0…n₀−1 are the first
 * dataset's, the next n₁ the second's, and so on. Negative indices count from the end.
 */
export class ConcatDataset extends Dataset {
  readonly datasets: readonly Dataset[];
  /** The running totals of the datasets' lengths (PyTorch's `cumulative_sizes`). */
  readonly cumulativeSizes: readonly number[];

  constructor(datasets: Iterable<Dataset>) {
    super();
    this.datasets = [...datasets];
    if (this.datasets.length === 0) throw new RangeError("ConcatDataset needs at least one dataset");
    this.datasets.forEach((dataset, i) => {
      if (!(dataset instanceof Dataset)) throw new TypeError(`ConcatDataset: item ${i} is not a Dataset`);
    });
    let total = 0;
    this.cumulativeSizes = this.datasets.map((dataset) => (total += dataset.length));
  }

  get length(): number {
    return this.cumulativeSizes[this.cumulativeSizes.length - 1];
  }

  get(index: number): Tensor[] {
    const i = resolveIndex("ConcatDataset", index, this.length);
    const d = this.cumulativeSizes.findIndex((size) => i < size);
    return this.datasets[d].get(d === 0 ? i : i - this.cumulativeSizes[d - 1]);
  }
}
