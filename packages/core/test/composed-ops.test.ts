// Composed ops (softmax, logsumexp, var, gelu, clamp…): float64 gradcheck, hand-computed forward values, GELU-tanh against PyTorch.
import { type Domain, fromFixture, seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { type Shape, type Tensor, tensor } from "../src/index.ts";
import { checkGradients, VIEW_MAKERS } from "./helpers.ts";
import { loadCoreFixtures } from "./local-fixtures.ts";

const SHAPE: Shape = [2, 3];

describe.each<{ name: string; fn: (x: Tensor) => Tensor; domain?: Domain }>([
  { name: "softmax(dim 1)", fn: (x) => x.softmax(1) },
  { name: "softmax(dim 0)", fn: (x) => x.softmax(0) },
  { name: "logSoftmax(dim -1)", fn: (x) => x.logSoftmax(-1) },
  { name: "logSoftmax(dim 0)", fn: (x) => x.logSoftmax(0) },
  { name: "logsumexp over all", fn: (x) => x.logsumexp() },
  { name: "logsumexp(dim 1)", fn: (x) => x.logsumexp(1) },
  { name: "logsumexp(dims [0, 1], keepdim)", fn: (x) => x.logsumexp([0, 1], true) },
  { name: "mean over all", fn: (x) => x.mean() },
  { name: "mean(dim 0, keepdim)", fn: (x) => x.mean(0, true) },
  { name: "var (correction 1)", fn: (x) => x.var() },
  { name: "var(dim 1, correction 0)", fn: (x) => x.var(1, { correction: 0 }) },
  { name: "var(dim 0, correction 1, keepdim)", fn: (x) => x.var(0, { correction: 1, keepdim: true }) },
  { name: "std(dim 1, correction 1)", fn: (x) => x.std(1) },
  { name: "std over all, correction 0", fn: (x) => x.std(undefined, { correction: 0 }) },
  { name: "gelu (exact)", fn: (x) => x.gelu() },
  { name: "gelu (tanh)", fn: (x) => x.gelu("tanh") },
  { name: "leakyRelu (default slope)", fn: (x) => x.leakyRelu(), domain: "nonzero" },
  { name: "leakyRelu(0.2)", fn: (x) => x.leakyRelu(0.2), domain: "nonzero" },
  { name: "clamp(-0.5, 0.5)", fn: (x) => x.clamp(-0.5, 0.5) },
  { name: "clamp(min only)", fn: (x) => x.clamp(0.1) },
  { name: "clamp(max only)", fn: (x) => x.clamp(null, -0.1) },
  { name: "rsqrt", fn: (x) => x.rsqrt(), domain: "positive" },
  { name: "square", fn: (x) => x.square() },
])("$name", ({ fn, domain = "normal" }) => {
  it.each(VIEW_MAKERS)("gradcheck on a $name input", (view) => {
    const leaf = seeded(view.leafShape(SHAPE), 21, { domain });
    checkGradients((x) => fn(view.apply(x, SHAPE)), [leaf]);
  });
});

describe("forward values computed by hand", () => {
  const x = () =>
    tensor(
      [
        [1, 2, 3],
        [-1, 0, 4],
      ],
      { dtype: "float64" },
    );
  const e = Math.exp;
  const lse = (values: number[]) => Math.log(values.reduce((sum, v) => sum + e(v), 0));
  it.each<{ name: string; fn: (x: Tensor) => Tensor; expected: number[] }>([
    {
      name: "softmax(dim 1)",
      fn: (t) => t.softmax(1),
      expected: [
        ...[1, 2, 3].map((v) => e(v) / (e(1) + e(2) + e(3))),
        ...[-1, 0, 4].map((v) => e(v) / (e(-1) + e(0) + e(4))),
      ],
    },
    {
      name: "logSoftmax(dim 0)",
      fn: (t) => t.logSoftmax(0),
      expected: [
        1 - lse([1, -1]),
        2 - lse([2, 0]),
        3 - lse([3, 4]),
        -1 - lse([1, -1]),
        -lse([2, 0]),
        4 - lse([3, 4]),
      ],
    },
    { name: "logsumexp(dim 1)", fn: (t) => t.logsumexp(1), expected: [lse([1, 2, 3]), lse([-1, 0, 4])] },
    { name: "mean(dim 0)", fn: (t) => t.mean(0), expected: [0, 1, 3.5] },
    { name: "sum over all", fn: (t) => t.sum(), expected: [9] },
    // Row 0: mean 2, squares 1+0+1 = 2; row 1: mean 1, squares 4+1+9 = 14.
    { name: "var(dim 1) unbiased", fn: (t) => t.var(1), expected: [1, 7] },
    { name: "var(dim 1, correction 0)", fn: (t) => t.var(1, { correction: 0 }), expected: [2 / 3, 14 / 3] },
    { name: "std(dim 1)", fn: (t) => t.std(1), expected: [1, Math.sqrt(7)] },
    { name: "square", fn: (t) => t.square(), expected: [1, 4, 9, 1, 0, 16] },
    {
      name: "rsqrt",
      fn: (t) => t.abs().add(1).rsqrt(),
      expected: [2, 3, 4, 2, 1, 5].map((v) => 1 / Math.sqrt(v)),
    },
    { name: "clamp(0, 2.5)", fn: (t) => t.clamp(0, 2.5), expected: [1, 2, 2.5, 0, 0, 2.5] },
    { name: "leakyRelu(0.1)", fn: (t) => t.leakyRelu(0.1), expected: [1, 2, 3, -0.1, 0, 4] },
    { name: "relu", fn: (t) => t.relu(), expected: [1, 2, 3, 0, 0, 4] },
    { name: "sigmoid", fn: (t) => t.sigmoid(), expected: [1, 2, 3, -1, 0, 4].map((v) => 1 / (1 + e(-v))) },
    // GELU(x) = x·Φ(x); Φ(1) = 0.8413447460685429, Φ(−1) = 0.15865525393145707.
    {
      name: "gelu (exact) at ±1",
      fn: (t) => t.narrow(1, 0, 1).gelu(),
      expected: [0.8413447460685429, -0.15865525393145707],
    },
    {
      name: "gelu (tanh) at ±1",
      fn: (t) => t.narrow(1, 0, 1).gelu("tanh"),
      expected: [1, -1].map(
        (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
      ),
    },
  ])("$name", ({ fn, expected }) => {
    expect(fn(x())).toBeAllclose(expected, { rtol: 1e-14, atol: 1e-15 });
  });

  it("softmax and logsumexp do not overflow for large inputs", () => {
    const big = tensor([1000, 1000, -Infinity], { dtype: "float64" });
    expect(big.softmax(0)).toBeAllclose([0.5, 0.5, 0], { rtol: 1e-12, atol: 1e-12 });
    expect(big.logsumexp(0)).toBeAllclose([1000 + Math.log(2)], { rtol: 1e-12, atol: 1e-12 });
    expect(big.logSoftmax(0).narrow(0, 0, 2)).toBeAllclose([-Math.log(2), -Math.log(2)], {
      rtol: 1e-12,
      atol: 1e-12,
    });
  });

  // log softmax([0, 1, −1]) = [0, 1, −1] − log(1 + e + e⁻¹), whatever the offset (the same as
  // torch.log_softmax(torch.tensor([0., 1., -1.]) + 1e7, 0), derived analytically). Subtracting a
  // float32 logsumexp near 1e7 (spacing 1) used to give [−1, 0, −2] (cross-entropy 0 at 1e7,
  // 0.4375 at 1e6, instead of 0.4076).
  it.each([1e6, 1e7])("logSoftmax keeps its precision for float32 logits near %d", (offset) => {
    const lse = Math.log(1 + Math.E + Math.exp(-1));
    const logits = tensor([0, 1, -1], { requiresGrad: true });
    const logProbs = logits.add(offset).logSoftmax(0);
    expect(logProbs).toBeAllclose([-lse, 1 - lse, -1 - lse], { rtol: 1e-6, atol: 0 });
    // d(−log p₁)/dx = softmax(x) − e₁
    logProbs.narrow(0, 1, 1).neg().sum().backward();
    const softmax = [1, Math.E, Math.exp(-1)].map((v) => v / Math.exp(lse));
    expect(logits.grad!).toBeAllclose([softmax[0], softmax[1] - 1, softmax[2]], { rtol: 1e-6, atol: 1e-7 });
  });

  it("logsumexp of an all −∞ slice is −∞, not NaN", () => {
    const slices = tensor(
      [
        [-Infinity, -Infinity],
        [0, 0],
      ],
      { dtype: "float64" },
    );
    expect(slices.logsumexp(1).tolist()).toEqual([-Infinity, Math.log(2)]);
  });

  // torch.logsumexp(torch.tensor([inf, 0.]), 0) is inf (the shift of an infinite maximum is 0).
  it("logsumexp with a +∞ entry is +∞, not NaN", () => {
    const slices = tensor(
      [
        [Infinity, 0],
        [Infinity, -Infinity],
        [1, 1],
      ],
      { dtype: "float64" },
    );
    expect(slices.logsumexp(1).tolist()).toEqual([Infinity, Infinity, 1 + Math.log(2)]);
  });

  // PyTorch 1.13's std_backward is (grad / (2·std)).masked_fill_(std == 0, 0) fed to
  // var_backward, so equal values give gradient 0; the other row: (x − x̄)/((n − 1)·std) = ±1/√2.
  it("std of equal values has gradient 0, not NaN (as PyTorch)", () => {
    const x = tensor(
      [
        [2, 2],
        [1, 3],
      ],
      { dtype: "float64", requiresGrad: true },
    );
    const std = x.std(1);
    expect(std.tolist()).toEqual([0, Math.SQRT2]);
    std.sum().backward();
    expect(x.grad!).toBeAllclose([0, 0, -Math.SQRT1_2, Math.SQRT1_2], { rtol: 1e-12, atol: 1e-12 });
    const y = tensor([5, 5, 5], { dtype: "float64", requiresGrad: true });
    y.std(undefined, { correction: 0 }).backward();
    expect(y.grad!.tolist()).toEqual([0, 0, 0]);
  });

  it("sigmoid is finite and exact at the extremes", () => {
    expect(tensor([-800, 800], { dtype: "float64" }).sigmoid().tolist()).toEqual([0, 1]);
  });

  it("clamp refuses min > max", () => {
    expect(() => x().clamp(2, 1)).toThrow("clamp: min 2 is greater than max 1");
  });

  it("mean of int32 values is float32", () => {
    const mean = tensor([1, 2], { dtype: "int32" }).mean();
    expect(mean.dtype).toBe("float32");
    expect(mean.item()).toBe(1.5);
  });
});

// A second check of GELU's tanh form, against PyTorch 1.13.1 on x = −8…8 (test/fixtures/gelu-tanh.json):
// a wrong constant (0.044715, √(2/π)) moves the values by far more than the tolerance.
describe("gelu (tanh) against PyTorch", () => {
  it.each(["float64", "float32"] as const)("values and gradient (%s)", (dtype) => {
    const [{ inputs, expected }] = loadCoreFixtures("gelu-tanh.json", "gelu");
    const tolerance = dtype === "float64" ? { rtol: 1e-13, atol: 1e-15 } : { rtol: 1e-5, atol: 1e-6 };
    const input = fromFixture(inputs.x, dtype, { requiresGrad: true });
    const output = input.gelu("tanh");
    expect(output).toBeAllclose(expected.output, tolerance);
    output.backward(fromFixture(inputs.dy, dtype));
    expect(input.grad).toBeAllclose(expected.grads.x, tolerance);
  });
});
