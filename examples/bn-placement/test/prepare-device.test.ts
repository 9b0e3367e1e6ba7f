// --device: the CPU always works; the GPU loads @normgrad/gpu at run time, with clear errors when it cannot.
import { describe, expect, it } from "vitest";
import { DeviceUnavailableError, GPU_PACKAGE, prepareDevice } from "../src/prepare-device.ts";

const failing = (message: string) => async () => {
  throw new Error(message);
};

const moduleNotFound = async () => {
  throw Object.assign(new Error(`Cannot find package '${GPU_PACKAGE}'`), { code: "ERR_MODULE_NOT_FOUND" });
};

// The failure cases run first: the last test really starts @normgrad/gpu, which registers "gpu" for the process.
describe("prepareDevice", () => {
  it("readies the CPU", async () => {
    await expect(prepareDevice("cpu")).resolves.toContain("cpu");
  });

  it("names the @normgrad/gpu package when it is not installed", async () => {
    await expect(prepareDevice("gpu", moduleNotFound)).rejects.toThrow(
      `--device gpu needs the optional ${GPU_PACKAGE} package, which @normgrad/example-bn-placement cannot load`,
    );
    await expect(prepareDevice("gpu", moduleNotFound)).rejects.toBeInstanceOf(DeviceUnavailableError);
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

  it("starts @normgrad/gpu and names the GPU.js mode that really runs", async () => {
    const description = await prepareDevice("gpu");
    expect(description).toMatch(
      /^gpu \(@normgrad\/gpu, GPU\.js (webasm|headlessgl) mode, (WebAssembly|HeadlessGL)Kernel\)$/,
    );
  });
});
