// Datasets: the Dataset base class (indexed samples of tensors) and TensorDataset.
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
