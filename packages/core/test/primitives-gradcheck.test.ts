// Float64 gradcheck of every VJP rule in primitives.ts, on contiguous, transposed, sliced and expanded inputs.
import { type Domain, seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { cat, type Shape, stack, type Tensor, type TensorLike, tensor, where } from "../src/index.ts";
import { scatterAdd } from "../src/primitives.ts";
import { checkGradients, VIEW_MAKERS } from "./helpers.ts";

const SHAPE: Shape = [2, 3];

describe.each<{ name: string; fn: (x: Tensor) => Tensor; domain: Domain }>([
  { name: "neg", fn: (x) => x.neg(), domain: "normal" },
  { name: "exp", fn: (x) => x.exp(), domain: "normal" },
  { name: "log", fn: (x) => x.log(), domain: "positive" },
  { name: "sqrt", fn: (x) => x.sqrt(), domain: "positive" },
  { name: "recip", fn: (x) => x.reciprocal(), domain: "nonzero" },
  { name: "tanh", fn: (x) => x.tanh(), domain: "normal" },
  { name: "sigmoid", fn: (x) => x.sigmoid(), domain: "normal" },
  { name: "relu", fn: (x) => x.relu(), domain: "nonzero" },
  { name: "abs", fn: (x) => x.abs(), domain: "nonzero" },
  { name: "sign", fn: (x) => x.sign(), domain: "nonzero" },
  { name: "erf", fn: (x) => x.erf(), domain: "normal" },
])("unary $name", ({ fn, domain }) => {
  it.each(VIEW_MAKERS)("on a $name input", (view) => {
    const leaf = seeded(view.leafShape(SHAPE), 1, { domain });
    checkGradients((x) => fn(view.apply(x, SHAPE)), [leaf]);
  });
});

const BINARY_OPS: readonly {
  name: string;
  fn: (a: Tensor, b: TensorLike) => Tensor;
  a: Domain;
  b: Domain;
}[] = [
  { name: "add", fn: (a, b) => a.add(b), a: "normal", b: "normal" },
  { name: "sub", fn: (a, b) => a.sub(b), a: "normal", b: "normal" },
  { name: "mul", fn: (a, b) => a.mul(b), a: "normal", b: "normal" },
  { name: "div", fn: (a, b) => a.div(b), a: "normal", b: "nonzero" },
  { name: "pow", fn: (a, b) => a.pow(b), a: "positive", b: "normal" },
  { name: "maximum", fn: (a, b) => a.maximum(b), a: "normal", b: "normal" },
  { name: "minimum", fn: (a, b) => a.minimum(b), a: "normal", b: "normal" },
];

const BINARY_SHAPES: readonly { name: string; a: Shape; b: Shape }[] = [
  { name: "equal shapes", a: [2, 3], b: [2, 3] },
  { name: "a row vector", a: [2, 3], b: [3] },
  { name: "both broadcast", a: [2, 1, 3], b: [4, 1] },
  { name: "a scalar tensor", a: [2, 3], b: [] },
];

describe.each(BINARY_OPS)("binary $name", ({ fn, a: domainA, b: domainB }) => {
  describe.each(BINARY_SHAPES)("with $name", ({ a: shapeA, b: shapeB }) => {
    it.each(VIEW_MAKERS)("on $name inputs", (view) => {
      const a = seeded(view.leafShape(shapeA), 2, { domain: domainA });
      const b = seeded(view.leafShape(shapeB), 3, { domain: domainB });
      checkGradients((x, y) => fn(view.apply(x, shapeA), view.apply(y, shapeB)), [a, b]);
    });
  });

  it("with a number operand", () => {
    checkGradients((x) => fn(x, 0.7), [seeded(SHAPE, 4, { domain: domainA })]);
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

describe("where", () => {
  const cases: readonly { name: string; condition: number[][] | number[]; a: Shape; b: Shape }[] = [
    {
      name: "equal shapes",
      condition: [
        [1, 0, 1],
        [0, 0, 1],
      ],
      a: [2, 3],
      b: [2, 3],
    },
    { name: "a broadcast condition and a scalar branch", condition: [0, 1, 1], a: [2, 3], b: [] },
  ];
  describe.each(cases)("with $name", ({ condition, a: shapeA, b: shapeB }) => {
    it.each(VIEW_MAKERS)("on $name inputs", (view) => {
      const mask = tensor(condition, { dtype: "int32" });
      const a = seeded(view.leafShape(shapeA), 5);
      const b = seeded(view.leafShape(shapeB), 6);
      checkGradients((x, y) => where(mask, view.apply(x, shapeA), view.apply(y, shapeB)), [a, b]);
    });
  });
});

describe.each([
  { name: "sum", fn: (x: Tensor, dim?: number | number[], keepdim?: boolean) => x.sum(dim, keepdim) },
  { name: "max", fn: (x: Tensor, dim?: number | number[], keepdim?: boolean) => x.max(dim, keepdim) },
  { name: "min", fn: (x: Tensor, dim?: number | number[], keepdim?: boolean) => x.min(dim, keepdim) },
])("reduction $name", ({ fn }) => {
  const shape: Shape = [2, 3, 2];
  describe.each<{ name: string; dim?: number | number[]; keepdim: boolean }>([
    { name: "one axis", dim: 1, keepdim: false },
    { name: "the last axis, keepdim", dim: -1, keepdim: true },
    { name: "two axes", dim: [0, 2], keepdim: false },
    { name: "two axes, keepdim", dim: [2, 0], keepdim: true },
    { name: "all axes", dim: undefined, keepdim: false },
    { name: "all axes, keepdim", dim: [0, 1, 2], keepdim: true },
  ])("over $name", ({ dim, keepdim }) => {
    it.each(VIEW_MAKERS)("on a $name input", (view) => {
      const leaf = seeded(view.leafShape(shape), 7);
      checkGradients((x) => fn(view.apply(x, shape), dim, keepdim), [leaf]);
    });
  });
});

describe.each<{ name: string; a: Shape; b: Shape }>([
  { name: "matrix @ matrix", a: [2, 3], b: [3, 4] },
  { name: "batched", a: [2, 2, 3], b: [2, 3, 2] },
  { name: "broadcast batch dims", a: [2, 1, 2, 3], b: [3, 3, 2] },
  { name: "matrix @ batch", a: [2, 3], b: [2, 3, 2] },
  { name: "vector @ matrix", a: [3], b: [3, 2] },
  { name: "matrix @ vector", a: [2, 3], b: [3] },
  { name: "vector @ vector", a: [3], b: [3] },
  { name: "vector @ batch", a: [3], b: [2, 3, 2] },
  { name: "batch @ vector", a: [2, 2, 3], b: [3] },
])("matmul $name", ({ a: shapeA, b: shapeB }) => {
  it.each(VIEW_MAKERS)("on $name inputs", (view) => {
    const a = seeded(view.leafShape(shapeA), 8);
    const b = seeded(view.leafShape(shapeB), 9);
    checkGradients((x, y) => view.apply(x, shapeA).matmul(view.apply(y, shapeB)), [a, b]);
  });
});

describe.each<{ name: string; shape: Shape; fn: (x: Tensor) => Tensor }>([
  { name: "reshape", shape: [2, 3, 2], fn: (x) => x.reshape([3, 4]) },
  { name: "reshape with -1", shape: [2, 3, 2], fn: (x) => x.reshape([-1, 2]) },
  { name: "view to a scalar", shape: [1, 1], fn: (x) => x.view([]) },
  { name: "flatten", shape: [2, 3, 2], fn: (x) => x.flatten(1) },
  { name: "squeeze and unsqueeze", shape: [2, 1, 3], fn: (x) => x.squeeze(1).unsqueeze(-1) },
  { name: "permute", shape: [2, 3, 2], fn: (x) => x.permute(2, 0, 1) },
  { name: "transpose", shape: [2, 3, 2], fn: (x) => x.transpose(0, -1) },
  { name: "expand", shape: [3, 1], fn: (x) => x.expand([2, 3, 4]) },
  { name: "expand with -1", shape: [3, 1], fn: (x) => x.expand([2, -1, 2]) },
  { name: "slice", shape: [2, 5], fn: (x) => x.slice(1, 1, -1) },
  { name: "slice of the first dim", shape: [4, 3], fn: (x) => x.slice(0, 2) },
  { name: "narrow", shape: [3, 4], fn: (x) => x.narrow(0, 1, 2) },
  { name: "narrow with a negative start", shape: [3, 4], fn: (x) => x.narrow(1, -3, 2) },
  { name: "pad the last dim", shape: [2, 3], fn: (x) => x.pad([1, 2]) },
  { name: "pad two dims with a value", shape: [2, 3], fn: (x) => x.pad([0, 1, 2, 1], 0.5) },
  { name: "contiguous", shape: [2, 3], fn: (x) => x.contiguous() },
  { name: "clone", shape: [2, 3], fn: (x) => x.clone() },
  {
    name: "gather (with repeated indices)",
    shape: [2, 3],
    fn: (x) =>
      x.gather(
        1,
        tensor(
          [
            [2, 2, 0, 1],
            [0, 1, 1, 1],
          ],
          { dtype: "int32" },
        ),
      ),
  },
  {
    name: "gather along dim 0 with a smaller, transposed index",
    shape: [2, 3],
    fn: (x) =>
      x.gather(
        0,
        tensor(
          [
            [1, 0],
            [1, 1],
          ],
          { dtype: "int32" },
        ).mT,
      ),
  },
  {
    name: "indexSelect (with repeated indices)",
    shape: [2, 3],
    fn: (x) => x.indexSelect(-1, tensor([2, 0, 2, 1], { dtype: "int32" })),
  },
  {
    name: "indexSelect along dim 0",
    shape: [2, 3],
    fn: (x) => x.indexSelect(0, tensor([1, 1, 0], { dtype: "int32" })),
  },
  {
    name: "scatterAdd (the primitive behind gather's gradient)",
    shape: [2, 4],
    fn: (x) =>
      scatterAdd(
        x,
        1,
        tensor(
          [
            [2, 0, 2, 1],
            [0, 0, 1, 2],
          ],
          { dtype: "int32" },
        ),
        [2, 3],
      ),
  },
])("movement $name", ({ shape, fn }) => {
  it.each(VIEW_MAKERS)("on a $name input", (view) => {
    const leaf = seeded(view.leafShape(shape), 10);
    checkGradients((x) => fn(view.apply(x, shape)), [leaf]);
  });
});

describe.each([
  { name: "cat along dim 1", fn: (a: Tensor, b: Tensor) => cat([a, b, a], 1), a: [2, 3], b: [2, 1] },
  { name: "cat along dim 0", fn: (a: Tensor, b: Tensor) => cat([b, a], 0), a: [2, 3], b: [1, 3] },
  { name: "stack along dim 0", fn: (a: Tensor, b: Tensor) => stack([a, b]), a: [2, 3], b: [2, 3] },
  { name: "stack along dim -1", fn: (a: Tensor, b: Tensor) => stack([a, b, a], -1), a: [2, 3], b: [2, 3] },
])("joining $name", ({ fn, a: shapeA, b: shapeB }) => {
  it.each(VIEW_MAKERS.filter((view) => view.name !== "expanded"))("on $name inputs", (view) => {
    const a = seeded(view.leafShape(shapeA), 11);
    const b = seeded(view.leafShape(shapeB), 12);
    checkGradients((x, y) => fn(view.apply(x, shapeA), view.apply(y, shapeB)), [a, b]);
  });

  it("on expanded inputs", () => {
    const a = seeded([1, shapeA[1]], 11);
    const b = seeded([1, shapeB[1]], 12);
    checkGradients((x, y) => fn(x.expand(shapeA), y.expand(shapeB)), [a, b]);
  });
});

describe("cast", () => {
  // float32 rounding (~6e-8 relative) over a step of 1e-3 leaves ~1e-4 of noise in the quotient.
  it.each(VIEW_MAKERS)("float64 → float32 → float64 on a $name input", (view) => {
    const leaf = seeded(view.leafShape(SHAPE), 13);
    checkGradients((x) => view.apply(x, SHAPE).to("float32").mul(3).to("float64"), [leaf], {
      eps: 1e-3,
      atol: 1e-3,
    });
  });

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
