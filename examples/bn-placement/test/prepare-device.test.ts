// --device: the CPU always works; the GPU loads @normgrad/gpu at run time, with clear errors when it cannot.
import { describe, expect, it } from "vitest";
import { DeviceUnavailableError, GPU_PACKAGE, prepareDevice } from "../src/prepare-device.ts";

const failing = (message: string) => async () => {
  throw new Error(message);
};

describe("prepareDevice", () => {
  it("readies the CPU", async () => {
    await expect(prepareDevice("cpu")).resolves.toContain("cpu");
  });

  it("names the @normgrad/gpu package when this example cannot load it", async () => {
    await expect(prepareDevice("gpu")).rejects.toThrow(
      `--device gpu needs the optional ${GPU_PACKAGE} package, which @normgrad/example-bn-placement cannot load`,
    );
    await expect(prepareDevice("gpu")).rejects.toBeInstanceOf(DeviceUnavailableError);
  });

  it.each([
    ["a load failure", failing("gl context lost"), `loading ${GPU_PACKAGE} failed: gl context lost`],
    ["a module without initGpu", async () => ({}), "has no initGpu() function"],
    ["a failing start", async () => ({ initGpu: failing("no adapter") }), "could not start: no adapter"],
    [
      "a start that registers nothing",
      async () => ({ initGpu: async () => ({ mode: "webasm", kernelClass: "WebAssemblyKernel" }) }),
      'registered no "gpu" backend',
    ],
  ])("reports %s", async (_, load, message) => {
    await expect(prepareDevice("gpu", load)).rejects.toThrow(message);
  });
});
