// Gradients through device copies: x.to("gpu") and .to("cpu") are recorded ops, as in PyTorch.
import { tensor } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import { skipReason, useGpuBackend } from "./helpers.ts";

describe.skipIf(skipReason("webasm") !== null)("device copies in webasm", () => {
  useGpuBackend("webasm");

  // torch: x = torch.tensor([1., 2., 3.], requires_grad=True); x.to("cuda").mul(3).sum().backward()
  // gives x.grad = [3, 3, 3] on the CPU. The copy used to be a new leaf, and x.grad stayed null.
  it("sends the gradient back to the CPU source", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    x.to("gpu").mul(3).sum().backward();
    expect([x.grad?.device, x.grad?.tolist()]).toEqual(["cpu", [3, 3, 3]]);
  });

  it("sends the gradient back to a GPU source through a copy to the CPU", () => {
    const w = tensor([1, -2], { requiresGrad: true });
    const onGpu = w.to("gpu");
    // d(Σ (w on the CPU)²)/dw = 2w, computed on the CPU, copied to the GPU and then to w.
    onGpu.to("cpu").square().sum().backward();
    expect([w.grad?.device, w.grad?.tolist()]).toEqual(["cpu", [2, -4]]);
    expect(onGpu.gradFn?.name).toBe("toDevice");
  });
});
