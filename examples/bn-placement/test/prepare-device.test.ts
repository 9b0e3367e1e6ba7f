// --device: the CPU always works; the GPU starts @normgrad/gpu, with clear errors when it cannot.
import { describe, expect, it } from "vitest";
import { DeviceUnavailableError, GPU_PACKAGE, prepareDevice } from "../src/prepare-device.ts";

const failing = (message: string) => async () => {
  throw new Error(message);
};

// The failure cases run first: the last test really starts @normgrad/gpu, which registers "gpu" for the process.
describe("prepareDevice", () => {
  it("readies the CPU", async () => {
    await expect(prepareDevice("cpu")).resolves.toContain("cpu");
  });

  it.each([
    [
      "a failure to load GPU.js",
      failing("gl context lost"),
      `${GPU_PACKAGE} could not start: gl context lost`,
    ],
    ["a failing start", failing("no adapter"), "could not start: no adapter"],
    [
      "a start that registers nothing",
      async () => ({ mode: "webasm" as const, kernelClass: "WebAssemblyKernel" }),
      'registered no "gpu" backend',
    ],
  ])("reports %s", async (_, start, message) => {
    await expect(prepareDevice("gpu", start)).rejects.toThrow(message);
    await expect(prepareDevice("gpu", start)).rejects.toBeInstanceOf(DeviceUnavailableError);
  });

  it("starts @normgrad/gpu and names the GPU.js mode that really runs", async () => {
    const description = await prepareDevice("gpu");
    expect(description).toMatch(
      /^gpu \(@normgrad\/gpu, GPU\.js (webasm|headlessgl) mode, (WebAssembly|HeadlessGL)Kernel\)$/,
    );
  });
});
