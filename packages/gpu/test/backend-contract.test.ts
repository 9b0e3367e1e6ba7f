// The backend's contract: mode selection and reporting, float32-only storage, reads, memory (tidy), the asynchronous mode.
import {
  getBackend,
  keep,
  liveBuffers,
  noGrad,
  registerBackend,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "@normgrad/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GpuBackend, headlessGlUnavailableReason, initGpu } from "../src/index.ts";
import { KERNEL_CLASS, SUITE_MODES, seeded, skipReason, toGpu, useGpuBackend } from "./helpers.ts";

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

  it.each([
    ["webgpu", /GPU.js mode "webgpu" cannot start here: no navigator.gpu/],
    ["webgl2", /GPU.js mode "webgl2" cannot start here: no WebGL2 context/],
  ] as const)("an explicit %s mode that cannot start throws the reason", (mode, message) => {
    expect(() => new GpuBackend({ mode })).toThrow(message);
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
  describe.skipIf(reason !== null)("storage and memory", () => {
    const backend = useGpuBackend(mode);

    it(`really runs ${KERNEL_CLASS[mode]} kernels`, () => {
      expect(backend().kernelClass).toBe(KERNEL_CLASS[mode]);
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

    it("copies a float64 CPU tensor into a float32 GPU tensor by casting on the CPU first (as layer init does)", () => {
      const target = zeros([3], { device: "gpu" });
      noGrad(() => target.copy_(tensor([0.5, -1.25, 3], { dtype: "float64" })));
      expect(target.dtype).toBe("float32");
      expect(Array.from(target.dataSync())).toEqual([0.5, -1.25, 3]);
    });

    it("stores int32 as float32, exactly up to 2^24, and refuses larger values", () => {
      const exact = tensor([-(2 ** 24), 7, 2 ** 24], { dtype: "int32" }).to("gpu");
      expect(exact.dtype).toBe("int32");
      expect(exact.dataSync()).toEqual(Int32Array.from([-(2 ** 24), 7, 2 ** 24]));
      expect(() => tensor([2 ** 24 + 1], { dtype: "int32" }).to("gpu")).toThrow(
        /int32 value 16777217 cannot be stored exactly/,
      );
      exact.dispose();
    });

    it("refuses tensors over 2^24 elements with the limit named", () => {
      expect(() => backend().full(2 ** 24 + 1, 0, "float32")).toThrow(/up to 2\^24 = 16777216 elements/);
    });

    it("reads views synchronously and asynchronously, and handles empty tensors", async () => {
      const x = tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]).to("gpu");
      expect(Array.from(x.mT.dataSync())).toEqual([1, 4, 2, 5, 3, 6]);
      expect(Array.from(await x.narrow(1, 1, 2).data())).toEqual([2, 3, 5, 6]);
      expect(x.sum().item()).toBe(21);
      const empty = x.narrow(0, 0, 0);
      expect(empty.exp().dataSync().length).toBe(0);
      expect(Array.from(empty.sum(0).dataSync())).toEqual([0, 0, 0]);
      expect(Array.from(empty.mT.matmul(empty).dataSync())).toEqual(new Array(9).fill(0));
      expect(Array.from(empty.pad([0, 0, 1, 0], 7).dataSync())).toEqual([7, 7, 7]);
      x.dispose();
    });

    it("gives values a caller may change without changing the tensor", () => {
      const x = tensor([1, 2, 3]).to("gpu");
      const values = x.dataSync();
      values[0] = 100;
      expect(Array.from(x.dataSync())).toEqual([1, 2, 3]);
      x.dispose();
    });

    it("in-place updates write through every view of the storage", () => {
      const x = tensor([1, 2, 3, 4]).to("gpu");
      const view = x.reshape([2, 2]);
      noGrad(() => x.mul_(2).add_(1));
      expect(Array.from(view.dataSync())).toEqual([3, 5, 7, 9]);
      expect(x.version).toBe(2);
      x.dispose();
    });

    it("a training step inside tidy returns the live-buffer count to its start", () => {
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
      const start = liveBuffers("gpu");
      step();
      step();
      expect(liveBuffers("gpu")).toBe(start);
      for (const t of [weight, bias, x, target]) t.dispose();
    });
  });
});

describe("webasm with threads (asynchronous results)", () => {
  let backend: GpuBackend;
  beforeAll(async () => {
    backend = new GpuBackend({ mode: "webasm", threads: true });
    await backend.ready();
    registerBackend(backend);
  });
  afterAll(async () => {
    await backend.destroy();
  });

  it("chains ops on promises and reads with await data(), refusing dataSync with the reason", async () => {
    expect(backend.readsSynchronously).toBe(false);
    const size = 5000; // large enough for the worker pool to split the work
    const values = Float32Array.from({ length: size }, (_, i) => (i % 7) - 3);
    const live = backend.liveBuffers();
    const x = tensor(values).to("gpu");
    const y = tidy(() => x.mul(x).add(1).sum());
    expect(() => y.dataSync()).toThrow(/asynchronously.*use `await tensor.data\(\)`/);
    const expected = values.reduce((sum, v) => sum + v * v + 1, 0);
    expect((await y.data())[0]).toBe(expected);
    const z: Tensor = zeros([3], { device: "gpu" });
    tidy(() => {
      noGrad(() => z.add_(x.narrow(0, 1, 3)));
    });
    expect(Array.from(await z.data())).toEqual([-2, -1, 0]);
    for (const t of [x, y, z]) t.dispose();
    expect(backend.liveBuffers()).toBe(live);
  });
});
