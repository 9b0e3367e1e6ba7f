// Second-order autograd on GPU.js: a Hessian-vector product through conv, BatchNorm and pooling equals the CPU's.
import { grad, randn, type Tensor } from "@normgrad/core";
import { BatchNorm2d, Conv2d, F, Flatten, Linear, MaxPool2d, ReLU, Sequential, Tanh } from "@normgrad/nn";
import { describe, expect, it } from "vitest";
import "@normgrad/testing";
import { LAYER_TOLERANCE, skipReason, toGpu, useGpuBackend } from "./helpers.ts";

/** H·v of the loss w.r.t. the model's parameters, with v = one fixed direction per parameter. */
function hessianVectorProduct(model: Sequential, x: Tensor, labels: Tensor, v: readonly Tensor[]): Tensor[] {
  const params = [...model.parameters()];
  const loss = F.crossEntropy(model.forward(x), labels);
  const gradients = grad([loss], params, { createGraph: true });
  const gv = gradients.map((g, i) => (g ?? params[i].zerosLike()).mul(v[i]).sum()).reduce((a, b) => a.add(b));
  return grad([gv], params, { allowUnused: true }).map((h, i) => h ?? params[i].zerosLike());
}

// The synchronous modes (the asynchronous ones need await data() for every read; the engine is the same).
describe.each(["webasm", "headlessgl"] as const)("GPU.js %s mode", (mode) => {
  const reason = skipReason(mode);
  describe.skipIf(reason !== null)("second order", () => {
    useGpuBackend(mode);

    it("a Hessian-vector product through Conv2d, BatchNorm2d, max pooling and tanh matches the CPU's", () => {
      const make = () =>
        new Sequential(
          new Conv2d(2, 3, 3, { padding: 1 }),
          new BatchNorm2d(3),
          new Tanh(),
          new MaxPool2d(2),
          new Flatten(),
          new Linear(12, 4),
          new ReLU(),
          new Linear(4, 3),
        );
      const cpu = make();
      const gpu = make();
      gpu.loadStateDict(cpu.stateDict());
      gpu.to("gpu");
      const x = randn([3, 2, 4, 4]);
      const labels = randn([3]).gt(0).to("int32");
      const v = [...cpu.parameters()].map((p) => randn(p.shape));
      const expected = hessianVectorProduct(cpu, x, labels, v);
      const actual = hessianVectorProduct(gpu, toGpu(x), labels.to("gpu"), v.map(toGpu));
      for (const [i, h] of actual.entries()) {
        expect(h.to("cpu"), `parameter ${i}`).toBeAllclose(expected[i], LAYER_TOLERANCE);
      }
    });
  });
});
