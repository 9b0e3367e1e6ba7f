// randomSplit: a dataset cut into non-overlapping random subsets of given lengths or fractions (PyTorch's algorithm).
import { defaultGenerator, formatValue, type Generator, randperm } from "@normgrad/core";
import { type Dataset, Subset } from "./dataset.ts";

/** Options of `randomSplit`. */
export interface RandomSplitOptions {
  /** The random stream of the permutation (default: the global generator). */
  generator?: Generator;
}

/**
 * The subset lengths `randomSplit` uses: `lengths` as given when they are counts; fractions
 * (summing to 1 within 1e-9) become ⌊n·fraction⌋ each, and the remainder is dealt one by one
 * to the subsets in order, round-robin (PyTorch 1.13's rule).
 */
export function splitLengths(n: number, lengths: readonly number[]): number[] {
  const sum = lengths.reduce((total, length) => total + length, 0);
  // Python's math.isclose(sum, 1) with its default rel_tol 1e-9, as PyTorch tests for fractions.
  if (Math.abs(sum - 1) <= 1e-9 * Math.max(Math.abs(sum), 1) && sum <= 1) {
    const counts = lengths.map((fraction, i) => {
      if (!(fraction >= 0 && fraction <= 1)) {
        throw new RangeError(
          `randomSplit: fraction at index ${i} is not between 0 and 1, got ${formatValue(fraction)}`,
        );
      }
      return Math.floor(n * fraction);
    });
    const remainder = n - counts.reduce((total, count) => total + count, 0);
    for (let i = 0; i < remainder; i++) counts[i % counts.length] += 1;
    return counts;
  }
  lengths.forEach((length, i) => {
    if (!Number.isInteger(length) || length < 0) {
      throw new RangeError(
        `randomSplit: length at index ${i} must be an integer >= 0, got ${formatValue(length)}`,
      );
    }
  });
  if (sum !== n) {
    throw new RangeError(
      `randomSplit: the lengths sum to ${sum}, the dataset has ${n} samples (give counts summing to it, or fractions summing to 1)`,
    );
  }
  return [...lengths];
}

/**
 * Splits `dataset` into non-overlapping random subsets (PyTorch's `random_split`): one
 * `randperm(n, { generator })`, cut into consecutive runs of the given lengths. `lengths` are
 * counts summing to the dataset's length, or fractions summing to 1 (see `splitLengths`). The
 * same generator seed gives the same split; it differs from PyTorch's for the same seed, since
 * the random streams differ.
 */
export function randomSplit(
  dataset: Dataset,
  lengths: readonly number[],
  { generator = defaultGenerator() }: RandomSplitOptions = {},
): Subset[] {
  if (lengths.length === 0) throw new RangeError("randomSplit: needs at least one length");
  const counts = splitLengths(dataset.length, lengths);
  const permutation = randperm(dataset.length, { generator });
  const order = Array.from(permutation.dataSync());
  permutation.dispose();
  const starts = counts.map((_, i) => counts.slice(0, i).reduce((sum, count) => sum + count, 0));
  return counts.map((count, i) => new Subset(dataset, order.slice(starts[i], starts[i] + count)));
}
