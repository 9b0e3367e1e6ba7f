// The study's MNIST splits: stratified subsets, normalized with MNIST's mean and std, cached per process.
import { tensor } from "@normgrad/core";
import { MNIST_MEAN, MNIST_STD, type MnistSplit, readMnistArrays, TensorDataset } from "@normgrad/data";
import type { DatasetName } from "./study-config.ts";

/**
 * The indices of a class-stratified subset of `size` samples, in dataset order: class c gets
 * `size · n_c / N` samples (largest remainders round up), its first ones in dataset order. No
 * random draw, so every run, seed and worker sees the same subset. `size ≥ N` keeps everything.
 */
export function stratifiedSubset(labels: ArrayLike<number>, size: number): number[] {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`stratifiedSubset: size must be an integer ≥ 1, got ${size}`);
  const total = labels.length;
  if (size >= total) return Array.from({ length: total }, (_, i) => i);
  const counts = new Map<number, number>();
  for (let i = 0; i < total; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  const classes = [...counts.keys()].sort((a, b) => a - b);
  const exact = classes.map((label) => (size * (counts.get(label) ?? 0)) / total);
  const quota = exact.map(Math.floor);
  const byRemainder = classes
    .map((_, i) => i)
    .sort((a, b) => exact[b] - quota[b] - (exact[a] - quota[a]) || a - b);
  const shortfall = size - quota.reduce((a, b) => a + b, 0);
  for (let k = 0; k < shortfall; k++) quota[byRemainder[k]]++;
  const left = new Map(classes.map((label, i) => [label, quota[i]]));
  const indices: number[] = [];
  for (let i = 0; i < total; i++) {
    const remaining = left.get(labels[i]) ?? 0;
    if (remaining > 0) {
      indices.push(i);
      left.set(labels[i], remaining - 1);
    }
  }
  return indices;
}

const PIXELS = 28 * 28;
const cache = new Map<string, TensorDataset>();

/**
 * One split of `dataset` as `[image (N, 1, 28, 28) float32, label (N) int32]`, normalized by
 * `(x − 0.1307) / 0.3081`, reduced to a stratified subset of `size` samples (null = all).
 * Built once per process and key; it stays on the CPU (`DataLoader`'s `device` option moves batches).
 */
export function loadStudySplit(dataset: DatasetName, split: MnistSplit, size: number | null): TensorDataset {
  const key = `${dataset}/${split}/${size ?? "all"}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const { images, labels } = readMnistArrays(split, dataset);
  const rows = size === null ? null : stratifiedSubset(labels, size);
  const count = rows === null ? labels.length : rows.length;
  const pixels = new Float32Array(count * PIXELS);
  const digits = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const row = rows === null ? i : rows[i];
    for (let p = 0; p < PIXELS; p++)
      pixels[i * PIXELS + p] = (images[row * PIXELS + p] - MNIST_MEAN) / MNIST_STD;
    digits[i] = labels[row];
  }
  const result = new TensorDataset(tensor(pixels, { shape: [count, 1, 28, 28] }), tensor(digits));
  cache.set(key, result);
  return result;
}
