// Loss values and gradients at the points where a naive formulation goes wrong (PyTorch values derived analytically).
import { gradcheck, tensor, zeros } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import { F } from "../src/index.ts";

describe("binaryCrossEntropyWithLogits at a logit of exactly 0", () => {
  const target = () => tensor([0.3, 1, 0], { dtype: "float64" });

  it("has PyTorch's gradient σ(x) − y", () => {
    // torch: x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    // F.binary_cross_entropy_with_logits(x, torch.tensor([0.3, 1., 0.], dtype=torch.float64), reduction="sum").backward()
    // x.grad = sigmoid(0) − y = [0.2, −0.5, 0.5] (exactly, as PyTorch's backward is σ(x) − y)
    const x = zeros([3], { dtype: "float64", requiresGrad: true });
    const loss = F.binaryCrossEntropyWithLogits(x, target(), { reduction: "sum" });
    // ℓ(0) = (1 − y)·0 + log 2 per element.
    expect(loss.item()).toBeCloseTo(3 * Math.LN2, 15);
    loss.backward();
    const grad = Array.from(x.grad?.dataSync() ?? []);
    [0.2, -0.5, 0.5].forEach((want, i) => {
      expect(grad[i]).toBeCloseTo(want, 15);
    });
  });

  it("has PyTorch's gradient (1 + (p − 1)·y)·σ(x) − p·y with posWeight", () => {
    // torch: the same call with pos_weight=torch.tensor([2., 3., 4.], dtype=torch.float64):
    // x.grad = (1 + (p − 1)·y)·0.5 − p·y = [1.3·0.5 − 0.6, 3·0.5 − 3, 0.5] = [0.05, −1.5, 0.5]
    const x = zeros([3], { dtype: "float64", requiresGrad: true });
    const posWeight = tensor([2, 3, 4], { dtype: "float64" });
    F.binaryCrossEntropyWithLogits(x, target(), { posWeight, reduction: "sum" }).backward();
    const grad = Array.from(x.grad?.dataSync() ?? []);
    [0.05, -1.5, 0.5].forEach((want, i) => {
      expect(grad[i]).toBeCloseTo(want, 15);
    });
  });

  it.each([
    ["no options", {}],
    [
      "posWeight and weight",
      {
        posWeight: tensor([2, 0.5, 3, 1], { dtype: "float64" }),
        weight: tensor([1, 2, 0.5, 1], { dtype: "float64" }),
      },
    ],
  ])("passes gradcheck (float64) at 0 and elsewhere: %s", (_, options) => {
    const x = tensor(
      [
        [0, 0, 0, 0],
        [-3, -0.25, 0.75, 40],
      ],
      { dtype: "float64", requiresGrad: true },
    );
    const y = tensor(
      [
        [0, 0.3, 1, 0.5],
        [1, 0.2, 0, 0.9],
      ],
      { dtype: "float64", requiresGrad: true },
    );
    expect(gradcheck((input, t) => F.binaryCrossEntropyWithLogits(input, t, options), [x, y]).length).toBe(2);
  });

  it("stays finite for logits of ±1000", () => {
    const x = tensor([-1000, 1000], { dtype: "float64", requiresGrad: true });
    const loss = F.binaryCrossEntropyWithLogits(x, tensor([1, 0], { dtype: "float64" }), {
      reduction: "sum",
    });
    expect(loss.item()).toBe(2000);
    loss.backward();
    expect(Array.from(x.grad?.dataSync() ?? [])).toEqual([-1, 1]);
  });
});
