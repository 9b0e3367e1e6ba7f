// The backend's contract: mode selection and reporting, float32-only storage, reads, memory (tidy), the asynchronous mode.
import {
  full,
  getBackend,
  keep,
  liveBuffers,
  noGrad,
  synchronize,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "@normgrad/core";
import { seeded } from "@normgrad/testing";
import { describe, expect, it, vi } from "vitest";
import {
  GpuBackend,
  gpuStats,
  headlessGlUnavailableReason,
  initGpu,
  resetGpuStats,
  webgpuUnavailableReason,
} from "../src/index.ts";
import { ASYNC_MODES, MODE_SETUP, SUITE_MODES, skipReason, toGpu, useGpuBackend } from "./helpers.ts";

/** Runs `fn` with `navigator` replaced by `value` (undefined: no navigator), then puts the real one back. */
async function withNavigator(value: unknown, fn: () => Promise<void> | void): Promise<void> {
  const real = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  Object.defineProperty(globalThis, "navigator", { value, configurable: true, writable: true });
  try {
    await fn();
  } finally {
    if (real === undefined) Reflect.deleteProperty(globalThis, "navigator");
    else Object.defineProperty(globalThis, "navigator", real);
  }
}

describe("mode selection", () => {
  it("auto takes headlessgl where a GL context can be made, else webasm with one warning naming why", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const reason = headlessGlUnavailableReason();
    const first = new GpuBackend({ mode: "auto" });
    const second = new GpuBackend({ mode: "auto" });
    expect(first.activeMode).toBe(reason === null ? "headlessgl" : "webasm");
    expect(first.fallbackReason).toBe(reason);
    expect(second.activeMode).toBe(first.activeMode);
    const fallbackWarnings = warn.mock.calls.filter(([message]) =>
      String(message).includes("running GPU.js in webasm"),
    );
    expect(fallbackWarnings.length).toBe(reason === null ? 0 : 1);
    warn.mockRestore();
    void first.destroy();
    void second.destroy();
  });

  it("an explicit webgl2 mode that cannot start throws the reason", () => {
    expect(() => new GpuBackend({ mode: "webgl2" })).toThrow(
      /GPU.js mode "webgl2" cannot start here: no WebGL2 context/,
    );
  });

  it("an explicit webgpu mode without navigator.gpu throws the reason", async () => {
    await withNavigator(undefined, async () => {
      expect(() => new GpuBackend({ mode: "webgpu" })).toThrow(
        /GPU.js mode "webgpu" cannot start here: no navigator.gpu/,
      );
      expect(await webgpuUnavailableReason()).toMatch(/^no navigator.gpu/);
    });
  });

  // Runs before any webgpu backend in this file: GPU.js keeps the first device it gets for the whole process.
  it("webgpu with navigator.gpu but no adapter (stock Debian 12) fails ready() saying what to install", async () => {
    const noAdapter = { gpu: { requestAdapter: () => Promise.resolve(null) } };
    await withNavigator(noAdapter, async () => {
      expect(await webgpuUnavailableReason()).toMatch(/no adapter.*mesa-vulkan-drivers/);
      const backend = new GpuBackend({ mode: "webgpu" });
      await expect(backend.ready()).rejects.toThrow(
        /GPU.js mode "webgpu" cannot start here: navigator.gpu gave no adapter.*Mesa ≥ 25 lavapipe/,
      );
    });
  });

  it("threads are a webasm option", () => {
    expect(() => new GpuBackend({ mode: "cpu", threads: true })).toThrow(
      /threads: true is a webasm option, but the mode is cpu/,
    );
  });

  it("initGpu registers the backend for device gpu and reports the kernel class that ran", async () => {
    const { backend, mode, kernelClass } = await initGpu({ mode: "cpu" });
    expect(mode).toBe("cpu");
    expect(kernelClass).toBe("CPUKernel");
    expect(getBackend("gpu")).toBe(backend);
    const x = tensor([1, 2, 3]).to("gpu");
    expect(x.device).toBe("gpu");
    expect(Array.from(x.mul(2).dataSync())).toEqual([2, 4, 6]);
    x.dispose();
    await backend.destroy();
  });
});

describe.each(SUITE_MODES)("GPU.js %s mode", (mode) => {
  const reason = skipReason(mode);
  const { kernelClass, synchronous } = MODE_SETUP[mode];
  describe.skipIf(reason !== null)("storage and memory", () => {
    const backend = useGpuBackend(mode);

    it(`really runs ${kernelClass} kernels, ${synchronous ? "" : "a"}synchronously`, () => {
      expect(backend().kernelClass).toBe(kernelClass);
      expect(backend().readsSynchronously).toBe(synchronous);
    });

    it("refuses float64, saying to keep it on the CPU backend, and never downcasts", () => {
      expect(() => tensor([1, 2], { dtype: "float64" }).to("gpu")).toThrow(
        /device "gpu" does not support float64/,
      );
      expect(() => tensor([1, 2], { dtype: "float64", device: "gpu" })).toThrow(/does not support float64/);
      expect(() => backend().upload(new Float64Array(2))).toThrow(
        /float32 only .* keep float64 tensors on the CPU backend/,
      );
      expect(() => backend().full(2, 0, "float64")).toThrow(/float32 only/);
      expect(() => tensor([1.5]).to("gpu").to("float64")).toThrow(/does not support float64/);
    });

    it("copies a float64 CPU tensor into a float32 GPU tensor by casting on the CPU first (as layer init does)", async () => {
      const target = zeros([3], { device: "gpu" });
      noGrad(() => target.copy_(tensor([0.5, -1.25, 3], { dtype: "float64" })));
      expect(target.dtype).toBe("float32");
      expect(Array.from(await target.data())).toEqual([0.5, -1.25, 3]);
    });

    it("stores int32 as float32, exactly up to 2^24, and refuses larger values", async () => {
      const exact = tensor([-(2 ** 24), 7, 2 ** 24], { dtype: "int32" }).to("gpu");
      expect(exact.dtype).toBe("int32");
      expect(await exact.data()).toEqual(Int32Array.from([-(2 ** 24), 7, 2 ** 24]));
      expect(() => tensor([2 ** 24 + 1], { dtype: "int32" }).to("gpu")).toThrow(
        /int32 value 16777217 cannot be stored exactly/,
      );
      exact.dispose();
    });

    it("refuses tensors over 2^24 elements with the limit named", () => {
      expect(() => backend().full(2 ** 24 + 1, 0, "float32")).toThrow(/up to 2\^24 = 16777216 elements/);
    });

    it("reads views with await data(), and handles empty tensors", async () => {
      const x = tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]).to("gpu");
      expect(Array.from(await x.mT.data())).toEqual([1, 4, 2, 5, 3, 6]);
      expect(Array.from(await x.narrow(1, 1, 2).data())).toEqual([2, 3, 5, 6]);
      expect(Array.from(await x.sum().data())).toEqual([21]);
      const empty = x.narrow(0, 0, 0);
      expect((await empty.exp().data()).length).toBe(0);
      expect(Array.from(await empty.sum(0).data())).toEqual([0, 0, 0]);
      expect(Array.from(await empty.mT.matmul(empty).data())).toEqual(new Array(9).fill(0));
      expect(Array.from(await empty.pad([0, 0, 1, 0], 7).data())).toEqual([7, 7, 7]);
      x.dispose();
    });

    // Only the synchronous modes can; the asynchronous ones' refusal is tested below.
    if (synchronous) {
      it("reads synchronously: dataSync, item, tolist, .to('cpu')", () => {
        const x = tensor([
          [1, 2, 3],
          [4, 5, 6],
        ]).to("gpu");
        expect(Array.from(x.mT.dataSync())).toEqual([1, 4, 2, 5, 3, 6]);
        expect(x.sum().item()).toBe(21);
        expect(x.narrow(1, 1, 2).tolist()).toEqual([
          [2, 3],
          [5, 6],
        ]);
        expect(Array.from(x.to("cpu").dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
        x.dispose();
      });
    }

    it("gives values a caller may change without changing the tensor", async () => {
      const x = tensor([1, 2, 3]).to("gpu");
      const values = await x.data();
      values[0] = 100;
      expect(Array.from(await x.data())).toEqual([1, 2, 3]);
      x.dispose();
    });

    it("in-place updates write through every view of the storage", async () => {
      const x = tensor([1, 2, 3, 4]).to("gpu");
      const view = x.reshape([2, 2]);
      noGrad(() => x.mul_(2).add_(1));
      expect(Array.from(await view.data())).toEqual([3, 5, 7, 9]);
      expect(x.version).toBe(2);
      x.dispose();
    });

    it("gpuStats counts reads, uploads and launches; a small fill is uploaded once and survives its users' dispose", async () => {
      resetGpuStats();
      const first = full([], 2.5, { device: "gpu" });
      const second = full([], 2.5, { device: "gpu" });
      first.dispose();
      const sum = second.add(second);
      expect(gpuStats()).toEqual({ reads: 0, uploads: 1, launches: 1 });
      expect(Array.from(await sum.data())).toEqual([5]);
      expect(Array.from(await second.data())).toEqual([2.5]);
      expect(gpuStats().reads).toBe(2);
      for (const t of [second, sum]) t.dispose();
    });

    it("a training step inside tidy returns the live-buffer count to its start", async () => {
      const weight = keep(toGpu(seeded([8, 3], 1)));
      const bias = keep(toGpu(seeded([3], 2)));
      const x = toGpu(seeded([5, 8], 3).detach());
      const target = tensor([0, 2, 1, 1, 0], { dtype: "int32" }).to("gpu");
      const step = () =>
        tidy(() => {
          const logits = x.matmul(weight).add(bias).relu();
          const picked = logits.logSoftmax(1).gather(1, target.reshape([5, 1]));
          picked.mean().neg().backward();
          noGrad(() => {
            for (const parameter of [weight, bias]) {
              const grad = parameter.grad;
              if (grad === null) throw new Error("no gradient");
              parameter.sub_(grad.mul(0.1));
              parameter.grad = null;
              grad.dispose();
            }
          });
        });
      step(); // the first step compiles kernels; the count must not depend on that either
      // gather's index check keeps its flag on the device until the next read or synchronize.
      await synchronize("gpu");
      const start = liveBuffers("gpu");
      step();
      step();
      await synchronize("gpu");
      expect(liveBuffers("gpu")).toBe(start);
      // The updates really ran (and, asynchronously, finished): the weights moved.
      expect(Array.from(await weight.data())).not.toEqual(Array.from(seeded([8, 3], 1).dataSync()));
      for (const t of [weight, bias, x, target]) t.dispose();
    });
  });
});

describe.each(ASYNC_MODES)("GPU.js %s mode (asynchronous results)", (mode) => {
  const reason = skipReason(mode);
  describe.skipIf(reason !== null)("reads", () => {
    const backend = useGpuBackend(mode);
    const modeName = mode === "webgpu" ? "webgpu" : "webasm with threads";

    it.each([
      ["dataSync()", (t: Tensor) => t.dataSync()],
      ["item()", (t: Tensor) => t.sum().item()],
      ["tolist()", (t: Tensor) => t.tolist()],
      ["toString()", (t: Tensor) => t.toString()],
      [".to('cpu')", (t: Tensor) => t.to("cpu")],
    ] as const)("%s throws, naming the mode and `await tensor.data()`", (_, read) => {
      const x = tensor([1, 2, 3]).to("gpu");
      expect(() => read(x)).toThrow(`GPU.js runs ${modeName} asynchronously`);
      expect(() => read(x)).toThrow("use `await tensor.data()`");
      x.dispose();
    });

    it("chains ops on promises and reads with await data(), freeing every buffer", async () => {
      const size = 5000; // large enough for the webasm worker pool to split the work
      const values = Float32Array.from({ length: size }, (_, i) => (i % 7) - 3);
      const live = backend().liveBuffers();
      const x = tensor(values).to("gpu");
      const y = tidy(() => x.mul(x).add(1).sum());
      const expected = values.reduce((sum, v) => sum + v * v + 1, 0);
      expect((await y.data())[0]).toBe(expected);
      const z: Tensor = zeros([3], { device: "gpu" });
      tidy(() => {
        noGrad(() => z.add_(x.narrow(0, 1, 3)));
      });
      expect(Array.from(await z.data())).toEqual([-2, -1, 0]);
      for (const t of [x, y, z]) t.dispose();
      expect(backend().liveBuffers()).toBe(live);
    });
  });
});
