// A kernel run at one output size and then at another (issue #20): chained calls of one kernel must give every element at both sizes.
import { tensor } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import { SUITE_MODES, skipReason, useGpuBackend } from "./helpers.ts";

describe.each(SUITE_MODES)("GPU.js %s mode", (mode) => {
  const reason = skipReason(mode);
  describe.skipIf(reason !== null)("one kernel source at two output sizes", () => {
    // Without input-size specialization, x.mul(2) at 4 and at 6 elements is one source, hence
    // one kernel per output size at most. GPU.js's immutable GL kernels keep the texture of an
    // argument that was their own last output and render into it once nothing else holds it
    // (WebGLKernel.updateTextureArgumentRefs); setOutput leaves it there, so a kernel shared
    // across sizes rendered the 6-element call into the 4-element call's texture (4 values
    // back, or wrong ones). RMSprop's `squareAvg.mul_(alpha)` after `g.mul(g)` is this chain.
    useGpuBackend(mode, { specializeInputSizes: false });

    it("a result fed back into the kernel that made it, at 4 then 6 elements", async () => {
      for (const size of [4, 6, 4, 6]) {
        const values = Array.from({ length: size }, (_, i) => i - 1.5);
        const x = tensor(values).to("gpu");
        const y = x.mul(2);
        const z = y.mul(3);
        y.dispose();
        expect(Array.from(await z.data()), `x·2·3 at ${size} elements`).toEqual(values.map((v) => v * 6));
        x.dispose();
        z.dispose();
      }
    });

    it("an in-place update of a tensor the same kernel just made, at 4 then 6 elements", async () => {
      for (const size of [4, 6]) {
        const values = Array.from({ length: size }, (_, i) => i + 1);
        const x = tensor(values).to("gpu");
        const average = x.mul(0);
        average.mul_(0.5).add_(x, 0.5);
        expect(Array.from(await average.data()), `0.5·x at ${size} elements`).toEqual(
          values.map((v) => v / 2),
        );
        x.dispose();
        average.dispose();
      }
    });
  });
});
