// Second-order autograd: grad(), backward with createGraph, gradgradcheck over every primitive, and tensor hooks.
import { allOpCases, isNotRun, opCaseInputs, registerFakeGpu } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { enableGrad, grad, gradgradcheck, noGrad, randn, type Tensor, tensor } from "../src/index.ts";

/** A tensor's `.grad` as a list (a function, so TypeScript does not keep `x.grad = null`'s narrowing). */
const gradValues = (x: Tensor) => x.grad?.tolist();

// The toDevice cases move to a second device.
registerFakeGpu();

const f64 = (values: number[], requiresGrad = true) => tensor(values, { dtype: "float64", requiresGrad });

const CASES = allOpCases().flatMap(({ op, opCase, seed }) =>
  op === "non-primitive" || isNotRun(opCase.gradcheck)
    ? []
    : [{ op, opCase, options: opCase.gradcheck, seed }],
);

describe.each(CASES)("gradgradcheck: $op $opCase.name", ({ opCase, options, seed }) => {
  it("second derivatives match central differences", () => {
    const inputs = opCaseInputs(opCase, seed);
    const reports = gradgradcheck(opCase.fn, inputs, options);
    expect(reports.length).toBe(inputs.filter((input) => input.requiresGrad).length + 1);
    for (const input of inputs) expect(input.grad).toBeNull();
  });
});

describe("grad()", () => {
  it("returns d(outputs)/d(inputs) without touching .grad, for leaves and intermediate tensors", () => {
    const x = f64([1, 2, 3]);
    const h = x.mul(x);
    const [dx, dh] = grad([h.sum().mul(2)], [x, h]);
    expect(dx?.tolist()).toEqual([4, 8, 12]);
    expect(dh?.tolist()).toEqual([2, 2, 2]);
    expect(x.grad).toBeNull();
    expect(dx?.requiresGrad).toBe(false);
  });

  it("sums over several outputs weighted by gradOutputs", () => {
    const x = f64([1, 2]);
    const [dx] = grad([x.mul(3), x.square()], [x], {
      gradOutputs: [f64([1, 1], false), f64([10, 100], false)],
    });
    expect(dx?.tolist()).toEqual([3 + 20, 3 + 400]);
  });

  it("differentiates twice with createGraph: x³ → 3x² → 6x → 6", () => {
    const x = f64([1, 2, 3]);
    const [first] = grad([x.pow(3).sum()], [x], { createGraph: true });
    expect(first?.tolist()).toEqual([3, 12, 27]);
    const [second] = grad([first!.sum()], [x], { createGraph: true });
    expect(second?.tolist()).toEqual([6, 12, 18]);
    const [third] = grad([second!.sum()], [x]);
    expect(third?.tolist()).toEqual([6, 6, 6]);
  });

  it("gives Hessian-vector products: for f = ½xᵀAx, H·v = ½(A + Aᵀ)·v", () => {
    const a = randn([4, 4], { dtype: "float64" });
    const x = randn([4, 1], { dtype: "float64", requiresGrad: true });
    const v = randn([4, 1], { dtype: "float64" });
    const f = x.mT.matmul(a).matmul(x).mul(0.5).sum();
    const [g] = grad([f], [x], { createGraph: true });
    const [hv] = grad([g!.mul(v).sum()], [x]);
    const expected = noGrad(() => a.add(a.mT).mul(0.5).matmul(v));
    expect(hv).toBeAllclose(expected, { rtol: 1e-12, atol: 1e-12 });
  });

  it("returns null for an unused input with allowUnused, and names it otherwise", () => {
    const x = f64([1]);
    const unused = f64([2]);
    expect(grad([x.mul(2).sum()], [x, unused], { allowUnused: true })[1]).toBeNull();
    expect(() => grad([x.mul(2).sum()], [unused])).toThrow(
      "grad: input 0 (shape [1]) was not used to compute the outputs; pass allowUnused: true",
    );
  });

  it("explains bad calls: inputs or outputs without grad, missing or misshapen gradOutputs", () => {
    const x = f64([1, 2]);
    const y = x.mul(2);
    expect(() => grad([y.sum()], [f64([1], false)])).toThrow(
      "grad: input 0 (shape [1]) does not require grad",
    );
    expect(() => grad([f64([1], false)], [x])).toThrow("grad: output 0 (shape [1]) does not require grad");
    expect(() => grad([y], [x])).toThrow(
      "output 0 has shape [2]; without gradOutputs every output must have one element",
    );
    expect(() => grad([y], [x], { gradOutputs: [f64([1, 2, 3], false)] })).toThrow(
      "gradOutputs[0] has shape [3] but output 0 has shape [2]",
    );
    expect(() => grad([y.sum()], [x], { gradOutputs: [] })).toThrow("0 gradOutputs for 1 outputs");
    expect(() => grad([], [x])).toThrow("grad: no outputs");
  });

  it("frees the graph unless retainGraph (default: createGraph)", () => {
    const x = f64([1, 2]);
    const y = x.exp().sum();
    grad([y], [x], { retainGraph: true });
    grad([y], [x]);
    expect(() => grad([y], [x])).toThrow("backward through the graph a second time");
  });
});

describe("backward with createGraph", () => {
  it("leaves a differentiable .grad: a gradient penalty's gradient", () => {
    const w = f64([0.5, -1, 2]);
    const x = f64([1, 2, 3]);
    // L = ‖∇ₓ(w·x)²‖² with ∇ₓ = 2(w·x)w: the penalty WGAN-GP computes, in miniature.
    const y = w.mul(x).sum().square();
    y.backward(undefined, { createGraph: true });
    expect(x.grad?.requiresGrad).toBe(true);
    const penalty = x.grad!.square().sum();
    const [dw] = grad([penalty], [w]);
    // penalty = 4s²‖w‖² with s = w·x: d/dw = 8s‖w‖²x + 8s²w.
    const s = 0.5 - 2 + 6;
    const norm = 0.25 + 1 + 4;
    expect(dw).toBeAllclose(
      [0.5, -1, 2].map((wi, i) => 8 * s * norm * [1, 2, 3][i] + 8 * s * s * wi),
      { rtol: 1e-12, atol: 0 },
    );
  });

  it("accumulates a second createGraph backward out of place", () => {
    const x = f64([1, 2]);
    x.square().sum().backward(undefined, { createGraph: true });
    const first = x.grad;
    x.square().sum().backward(undefined, { createGraph: true });
    expect(x.grad).not.toBe(first);
    expect(x.grad?.tolist()).toEqual([4, 8]);
    expect(first?.tolist()).toEqual([2, 4]);
  });

  it("records the backward even inside noGrad (enableGrad), as torch.autograd.grad does", () => {
    const x = f64([3]);
    const [dx] = noGrad(() => enableGrad(() => grad([x.pow(2).sum()], [x], { createGraph: true })));
    expect(dx?.requiresGrad).toBe(true);
  });
});

describe("tensor hooks", () => {
  it("registerHook sees a gradient and may replace it; remove() unregisters", () => {
    const x = f64([1, 2]);
    const seen: number[][] = [];
    const handle = x.registerHook((g) => {
      seen.push(g.tolist() as number[]);
      return g.mul(10);
    });
    x.mul(3).sum().backward();
    expect(seen).toEqual([[3, 3]]);
    expect(x.grad?.tolist()).toEqual([30, 30]);
    handle.remove();
    x.grad = null;
    x.mul(3).sum().backward();
    expect(gradValues(x)).toEqual([3, 3]);
  });

  it("a hook on an intermediate tensor changes what flows to the ops before it", () => {
    const x = f64([1, 2]);
    const h = x.exp();
    h.registerHook((g) => g.zerosLike());
    h.add(x).sum().backward();
    expect(x.grad?.tolist()).toEqual([1, 1]);
  });

  it("retainGrad keeps an intermediate tensor's gradient in .grad", () => {
    const x = f64([1, 2]);
    const h = x.mul(x);
    h.retainGrad();
    h.mul(5).sum().backward();
    expect(h.grad?.tolist()).toEqual([5, 5]);
    expect(x.grad?.tolist()).toEqual([10, 20]);
  });

  it("explains misuse: hooks on tensors without grad, a hook that changes the shape", () => {
    expect(() => f64([1], false).registerHook((g) => g)).toThrow("does not require grad");
    expect(() => f64([1], false).retainGrad()).toThrow("does not require grad");
    const x = f64([1, 2]);
    x.registerHook((g): Tensor => g.sum());
    expect(() => x.mul(2).sum().backward()).toThrow(
      "a gradient hook returned float64 [] for a gradient of float64 [2]: it must keep the shape and dtype",
    );
  });
});
