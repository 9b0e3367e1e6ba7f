// Value checks on the GPU (index and target ranges, non-finite BatchNorm statistics): deferred to the next read or `synchronize` in every mode; BatchNorm's running statistics stay right.
import { getBackend, synchronize, type Tensor, tensor, tidy } from "@normgrad/core";
import { BatchNorm1d, F } from "@normgrad/nn";
import { seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { gpuStats, resetGpuStats } from "../src/index.ts";
import { LAYER_TOLERANCE, SUITE_MODES, skipReason, toGpu, useGpuBackend } from "./helpers.ts";

/**
 * Expects `run` not to throw and its check to report `message` at the next read on the device
 * (`dataSync` where the device reads synchronously, else `await data()`), and only once (the
 * read after it gives the values), as a CUDA device-side assert surfaces at the next sync.
 */
async function expectReported(run: () => Tensor, message: RegExp): Promise<void> {
  const result = run();
  if (getBackend("gpu").readsSynchronously) {
    expect(() => result.dataSync()).toThrow(message);
  } else {
    await expect(result.data()).rejects.toThrow(message);
  }
  expect((await result.data()).length).toBe(result.size);
  result.dispose();
}

/** Values of a BatchNorm buffer (running statistics, batch count), which every tracking layer has. */
async function bufferValues(buffer: Tensor | null): Promise<number[]> {
  if (buffer === null) throw new Error("the layer tracks no running statistics");
  return Array.from(await buffer.data());
}

const logits = (): Tensor => toGpu(seeded([3, 4], 1).detach());
const targets = (values: number[]): Tensor => tensor(values, { dtype: "int32" }).to("gpu");

describe.each(SUITE_MODES)("GPU.js %s mode", (mode) => {
  const reason = skipReason(mode);
  describe.skipIf(reason !== null)("value checks", () => {
    useGpuBackend(mode);

    it.each([
      [
        "gather",
        () => logits().gather(1, targets([0, 4, 1]).reshape([3, 1])),
        /gather: index 4 is out of range/,
      ],
      [
        "indexSelect",
        () => logits().indexSelect(0, targets([2, -1])),
        /indexSelect: index -1 is out of range/,
      ],
      [
        "crossEntropy",
        () => F.crossEntropy(logits(), targets([0, 3, 7])),
        /crossEntropy: target 7 is out of bounds: class indices must be in \[0, 3\]/,
      ],
    ] as const)("%s with an index out of range names it", async (_, run, message) => {
      await expectReported(() => tidy(run), message);
    });

    it("synchronize reports a failed check once, and a passing check reads nothing more", async () => {
      const loss = tidy(() => F.crossEntropy(logits(), targets([0, 3, 9])));
      await expect(synchronize("gpu")).rejects.toThrow(/crossEntropy: target 9 is out of bounds/);
      await expect(synchronize("gpu")).resolves.toBeUndefined();
      const fine = tidy(() => F.crossEntropy(logits(), targets([0, 3, 2])));
      expect(Number.isFinite((await fine.data())[0])).toBe(true);
      loss.dispose();
      fine.dispose();
    });

    it("checks pending without a read are settled unasked at 64 (one read), so memory stays bounded", async () => {
      const x = logits();
      const index = targets([0, 3, 1]).reshape([3, 1]);
      await synchronize("gpu");
      resetGpuStats();
      for (let k = 0; k < 63; k++) x.gather(1, index).dispose();
      expect(gpuStats().reads).toBe(0);
      x.gather(1, index).dispose();
      expect(gpuStats().reads).toBe(1);
      await synchronize("gpu");
      for (const t of [x, index]) t.dispose();
    });

    it("a BatchNorm1d training forward on NaN and ±Infinity names the channels and leaves every running statistic unchanged", async () => {
      const bn = new BatchNorm1d(3).to("gpu");
      const values = Array.from(seeded([4, 3], 2).detach().dataSync());
      values[3 * 2 + 1] = Number.NaN;
      values[3 * 1 + 2] = Number.POSITIVE_INFINITY;
      const x = tensor(values, { shape: [4, 3] }).to("gpu");
      await expectReported(
        () => bn.forward(x),
        /batchNorm: the batch statistics of channel\(s\) 1, 2 are not finite \(channel 1: mean NaN/,
      );
      const [mean, variance] = [await bufferValues(bn.runningMean), await bufferValues(bn.runningVar)];
      // One bad channel skips the whole update, in the synchronous and the asynchronous modes alike.
      expect(Array.from(mean)).toEqual([0, 0, 0]);
      expect(Array.from(variance)).toEqual([1, 1, 1]);
      x.dispose();
    });

    it("BatchNorm1d with momentum null keeps the cumulative average of the batch statistics, as on the CPU", async () => {
      const cpu = new BatchNorm1d(3, { momentum: null }).to("float64");
      const gpu = new BatchNorm1d(3, { momentum: null }).to("gpu");
      const batches = [0, 1, 2].map((k) =>
        seeded([6, 3], 10 + k)
          .detach()
          .mul(k + 1)
          .add(k),
      );
      for (const x of batches) {
        tidy(() => {
          cpu.forward(x);
          gpu.forward(toGpu(x));
        });
      }
      // The first update takes the batch's statistics whole (momentum 1/1), so the running mean is the plain average.
      const averageMean = batches
        .map((x) => x.mean(0))
        .reduce((sum, mean) => sum.add(mean))
        .div(batches.length);
      expect(
        Float64Array.from(await bufferValues(cpu.runningMean)),
        "CPU running mean vs the average of the batch means",
      ).toBeAllclose(await averageMean.data(), { rtol: 1e-12, atol: 1e-12 });
      expect(Float64Array.from(await bufferValues(gpu.runningMean)), "runningMean").toBeAllclose(
        Float64Array.from(await bufferValues(cpu.runningMean)),
        LAYER_TOLERANCE,
      );
      expect(Float64Array.from(await bufferValues(gpu.runningVar)), "runningVar").toBeAllclose(
        Float64Array.from(await bufferValues(cpu.runningVar)),
        LAYER_TOLERANCE,
      );
      expect(await bufferValues(gpu.numBatchesTracked)).toEqual([3]);
    });
  });
});
