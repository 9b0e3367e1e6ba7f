// Float64 gradcheck of every VJP rule in primitives.ts, driven by @normgrad/testing's OP_CASES, on contiguous, transposed, sliced and expanded inputs.
import { allOpCases, fromFixture, isNotRun, opCaseInputs, registerFakeGpu } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { type Shape, type Tensor, tensor } from "../src/index.ts";
import { checkGradients, VIEW_MAKERS } from "./helpers.ts";
import { loadCoreFixtures } from "./local-fixtures.ts";

// The toDevice cases move to a second device.
registerFakeGpu();

const GRADCHECKED = allOpCases().flatMap(({ op, opCase, seed }) =>
  op === "non-primitive" || isNotRun(opCase.gradcheck)
    ? []
    : [{ op, opCase, options: opCase.gradcheck, seed }],
);

describe.each(GRADCHECKED)("$op $opCase.name", ({ opCase, options, seed }) => {
  const shapes = opCase.inputs.map((input): Shape | null => ("shape" in input ? input.shape : null));
  it.each(VIEW_MAKERS)("on $name inputs", (view) => {
    const inputs = opCaseInputs(opCase, seed, view.leafShape);
    const viewed = (...leaves: typeof inputs) =>
      opCase.fn(...leaves.map((leaf, i) => (shapes[i] === null ? leaf : view.apply(leaf, shapes[i]))));
    checkGradients(viewed, inputs, options);
  });
});

describe("ties and special points", () => {
  // At a tie the central difference of max(x, y) in x is (ε − 0)/2ε = 1/2: the equal split.
  it.each([
    { name: "maximum", fn: (a: Tensor, b: Tensor) => a.maximum(b), middle: [0, 1] },
    { name: "minimum", fn: (a: Tensor, b: Tensor) => a.minimum(b), middle: [1, 0] },
  ])("$name splits the gradient equally at ties (gradcheck agrees)", ({ fn, middle }) => {
    const a = tensor([1, -2, 3], { dtype: "float64", requiresGrad: true });
    const b = tensor([1, 5, 3], { dtype: "float64", requiresGrad: true });
    checkGradients(fn, [a, b]);
    a.grad = null;
    b.grad = null;
    fn(a, b).sum().backward();
    expect(a.grad!.tolist()).toEqual([0.5, middle[0], 0.5]);
    expect(b.grad!.tolist()).toEqual([0.5, middle[1], 0.5]);
  });

  // A second check, against PyTorch 1.13.1 itself: ties of equal values, of 0 and −0, of equal
  // infinities, under broadcasting (b's halves summed) and with a 0-D operand; and NaN on either
  // side, where both operands get the whole gradient.
  it.each(loadCoreFixtures("maximum-ties.json", "maximum", "minimum"))(
    "$name: values and the gradient (ties split half and half, NaN to both) as PyTorch",
    ({ op, inputs, expected }) => {
      const a = fromFixture(inputs.a, "float64", { requiresGrad: true });
      const b = fromFixture(inputs.b, "float64", { requiresGrad: true });
      const out = op === "maximum" ? a.maximum(b) : a.minimum(b);
      expect(out).toBeAllclose(expected.output, { rtol: 0, atol: 0, equalNan: true });
      out.backward(fromFixture(inputs.dy, "float64"));
      expect(a.grad, "grad a").toBeAllclose(expected.grads.a, { rtol: 1e-15, atol: 0 });
      expect(b.grad, "grad b").toBeAllclose(expected.grads.b, { rtol: 1e-15, atol: 1e-16 });
    },
  );

  it("pow takes d(aᵇ)/db = 0 where a = 0 (as PyTorch) and b·aᵇ⁻¹ for a", () => {
    const a = tensor([0, 2], { dtype: "float64", requiresGrad: true });
    const b = tensor([2, 3], { dtype: "float64", requiresGrad: true });
    a.pow(b).sum().backward();
    expect(a.grad!.tolist()).toEqual([0, 12]);
    expect(b.grad!.tolist()).toEqual([0, 8 * Math.log(2)]);
  });

  // torch: x = torch.tensor([0., 2.], dtype=torch.double, requires_grad=True); x.pow(0).sum().backward()
  // gives x.grad = [0, 0] (pow_backward masks exponent == 0); the tensor-exponent form likewise
  // (where(exponent == 0, 0, b·aᵇ⁻¹): [0, 1·0⁰, 0]). Derived from the formulas, not run.
  it("pow has gradient 0 for a where the exponent is 0, even at a = 0 (as PyTorch)", () => {
    const x = tensor([0, 2], { dtype: "float64", requiresGrad: true });
    x.pow(0).sum().backward();
    expect(x.grad!.tolist()).toEqual([0, 0]);
    const a = tensor([0, 0, 2], { dtype: "float64", requiresGrad: true });
    const b = tensor([0, 1, 0], { dtype: "float64", requiresGrad: true });
    a.pow(b).sum().backward();
    expect(a.grad!.tolist()).toEqual([0, 1, 0]);
    expect(b.grad!.tolist()).toEqual([0, 0, Math.log(2)]);
  });

  it("relu, abs and sign have gradient 0 at 0 (as PyTorch)", () => {
    const x = tensor([0, 0, 0], { dtype: "float64", requiresGrad: true });
    x.relu().add(x.abs()).add(x.sign()).sum().backward();
    expect(x.grad!.tolist()).toEqual([0, 0, 0]);
  });
});

describe("cast", () => {
  it("sends a float64 gradient back to a float32 leaf as float32", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.to("float64")
      .mul(tensor([3, 4], { dtype: "float64" }))
      .sum()
      .backward();
    expect(x.grad!.dtype).toBe("float32");
    expect(x.grad!.tolist()).toEqual([3, 4]);
  });
});
