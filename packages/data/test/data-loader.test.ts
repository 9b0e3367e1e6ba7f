// DataLoader and the datasets: seeded order, dropLast, collation, the device option, and errors.
import {
  arange,
  Generator,
  liveBuffers,
  manualSeed,
  rand,
  randperm,
  type Tensor,
  tensor,
} from "@normgrad/core";
import { describe, expect, it } from "vitest";
import { DataLoader, Dataset, TensorDataset } from "../src/index.ts";

/** Ten samples: x = [i, 10i], y = i, so a batch's y lists the sample indices it holds. */
function tenSamples(): TensorDataset {
  const x = tensor(Array.from({ length: 10 }, (_, i) => [i, 10 * i]));
  return new TensorDataset(x, arange(10));
}

/** One epoch as lists of sample indices per batch. */
function epoch(loader: DataLoader): number[][] {
  return Array.from(loader, ([, y]) => Array.from(y.dataSync()));
}

describe("DataLoader", () => {
  it("keeps dataset order without shuffle, the last partial batch included", () => {
    const loader = new DataLoader(tenSamples(), { batchSize: 4 });
    expect(loader.length).toBe(3);
    expect(epoch(loader)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
  });

  it("drops the last partial batch with dropLast", () => {
    const loader = new DataLoader(tenSamples(), { batchSize: 4, dropLast: true });
    expect(loader.length).toBe(2);
    expect(epoch(loader)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
  });

  it("collates every component of the samples", () => {
    const [[x, y]] = new DataLoader(tenSamples(), { batchSize: 2 });
    expect(x.shape).toEqual([2, 2]);
    expect(x.tolist()).toEqual([
      [0, 0],
      [1, 10],
    ]);
    expect(y.dtype).toBe("int32");
  });

  it("shuffles the same way for the same seed, and differently each epoch", () => {
    const make = (seed: number) =>
      new DataLoader(tenSamples(), { batchSize: 3, shuffle: true, generator: new Generator(seed) });
    const [a, b, c] = [make(7), make(7), make(8)];
    const firstA = epoch(a);
    expect(epoch(b)).toEqual(firstA);
    expect(epoch(c)).not.toEqual(firstA);
    const secondA = epoch(a);
    expect(secondA).not.toEqual(firstA);
    expect(epoch(b)).toEqual(secondA);
    for (const order of [firstA, secondA]) {
      expect(order.map((batch) => batch.length)).toEqual([3, 3, 3, 1]);
      expect(order.flat().sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });

  // A second, independent check of the seeded order: the loader's documented rule, each epoch is
  // randperm(n, { generator }) drawn from the loader's own stream, leaving the global one alone.
  it("orders each epoch as the next randperm of its generator's stream, leaving the global generator alone", () => {
    const loader = new DataLoader(tenSamples(), {
      batchSize: 4,
      shuffle: true,
      generator: new Generator(31),
    });
    const reference = new Generator(31);
    manualSeed(99);
    const globalNext = rand([3]).tolist();
    manualSeed(99);
    for (let e = 0; e < 3; e++) {
      expect(epoch(loader).flat(), `epoch ${e}`).toEqual(randperm(10, { generator: reference }).tolist());
    }
    expect(rand([3]).tolist()).toEqual(globalNext);
  });

  it("gives 200 seeds 200 different orders, each sample at each position about equally often", () => {
    const seeds = 200;
    const orders = Array.from({ length: seeds }, (_, seed) =>
      epoch(
        new DataLoader(tenSamples(), { batchSize: 10, shuffle: true, generator: new Generator(seed) }),
      ).flat(),
    );
    expect(new Set(orders.map((order) => order.join(","))).size).toBe(seeds);
    // counts[position][sample]: 20 expected each; a binomial(200, 0.1) stays within 3..45 with
    // probability above 1 − 1e-6 per cell, while a shuffle that never leaves a sample in place
    // (Sattolo's) or favours the identity puts 0 or far more in a cell.
    const counts = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
    for (const order of orders) {
      for (const [position, sample] of order.entries()) counts[position][sample]++;
    }
    expect(Math.min(...counts.flat())).toBeGreaterThanOrEqual(3);
    expect(Math.max(...counts.flat())).toBeLessThanOrEqual(45);
  });

  it("uses the global generator when none is given (manualSeed makes it reproducible)", () => {
    const loader = new DataLoader(tenSamples(), { batchSize: 5, shuffle: true });
    manualSeed(123);
    const first = epoch(loader);
    manualSeed(123);
    expect(epoch(loader)).toEqual(first);
  });

  it('delivers batches on device "cpu" unchanged, with no buffer left behind', () => {
    const dataset = tenSamples();
    const make = (device?: "cpu") =>
      new DataLoader(dataset, { batchSize: 4, shuffle: true, generator: new Generator(5), device });
    const onCpu = make("cpu");
    expect(onCpu.device).toBe("cpu");
    expect(make().device).toBeUndefined();
    const before = liveBuffers();
    const batches = Array.from(onCpu);
    // Already on the CPU: `to` hands back the batch itself, which must not have been disposed.
    expect(batches.every((batch) => batch.every((t) => t.device === "cpu" && !t.isDisposed))).toBe(true);
    const reference = Array.from(make());
    expect(batches.map(([x, y]) => [x.tolist(), y.tolist()])).toEqual(
      reference.map(([x, y]) => [x.tolist(), y.tolist()]),
    );
    for (const t of [...batches.flat(), ...reference.flat()]) t.dispose();
    expect(liveBuffers()).toBe(before);
  });

  it("refuses a device name it does not know, naming it", () => {
    // A JavaScript caller (or a typo behind a cast) can pass any string.
    // @ts-expect-error "tpu" is not a Device
    expect(() => new DataLoader(tenSamples(), { device: "tpu" })).toThrow(
      'DataLoader: device must be one of "cpu", "gpu", got "tpu"',
    );
  });

  it('refuses device "gpu" while no GPU backend is registered, saying how to get one', () => {
    expect(() => new DataLoader(tenSamples(), { device: "gpu" })).toThrow(
      'DataLoader: device "gpu" has no backend: import and initialise @normgrad/gpu before using "gpu"',
    );
  });

  it.each([0, -1, 2.5])("refuses batchSize %s", (batchSize) => {
    expect(() => new DataLoader(tenSamples(), { batchSize })).toThrow(
      `DataLoader: batchSize must be a positive integer, got ${batchSize}`,
    );
  });
});

describe("datasets", () => {
  class Squares extends Dataset {
    get length(): number {
      return 4;
    }
    get(index: number): Tensor[] {
      return [tensor([index, index * index]), tensor(index, { dtype: "int32" })];
    }
  }

  it("a custom Dataset is batched by stacking its samples", () => {
    const [x, y] = new Squares().getBatch([3, 1]);
    expect(x.tolist()).toEqual([
      [3, 9],
      [1, 1],
    ]);
    expect(y.tolist()).toEqual([3, 1]);
  });

  it("TensorDataset returns row i of each tensor", () => {
    const [x, y] = tenSamples().get(3);
    expect(x.tolist()).toEqual([3, 30]);
    expect(y.item()).toBe(3);
  });

  it.each([
    ["no tensors", () => new TensorDataset(), /needs at least one tensor/],
    [
      "different first dims",
      () => new TensorDataset(tensor([[1], [2]]), tensor([1, 2, 3])),
      /tensors must share their first dim, got \[2, 1\], \[3\]/,
    ],
    [
      "an index out of range",
      () => tenSamples().get(10),
      /index 10 is out of range for a dataset of 10 samples/,
    ],
  ])("refuses %s", (_, make, message) => {
    expect(make).toThrow(message);
  });
});
