// The issue #20 Tensor methods (flip … topk) against PyTorch 1.13.1 (test/fixtures/tensor-ops.json), float64 gradcheck/gradgradcheck, errors.
import { type FixtureTensor, fromFixture, seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { cat, type DType, gradgradcheck, type Tensor, tensor } from "../src/index.ts";
import { checkGradients, VIEW_MAKERS } from "./helpers.ts";
import { loadCoreFixtures } from "./local-fixtures.ts";

type Config = Record<string, unknown>;
type Dims = number | number[];

/** Pieces flattened, each scaled by its position + 1, and joined (as the generator joins them). */
const joined = (pieces: Tensor[]) => cat(pieces.map((p, i) => p.reshape([p.size]).mul(i + 1)));
const indices = (pair: [Tensor, Tensor]) => pair[1].to("float64");

const OPS: Record<string, (inputs: Tensor[], c: Config) => Tensor> = {
  flip: ([x], c) => x.flip(c.dims as Dims),
  roll: ([x], c) => x.roll(c.shifts as Dims, c.dims as Dims | undefined),
  repeat: ([x], c) => x.repeat(...(c.sizes as number[])),
  split: ([x], c) => joined(x.split(c.split as Dims, c.dim as number)),
  chunk: ([x], c) => joined(x.chunk(c.chunks as number, c.dim as number)),
  tril: ([x], c) => x.tril(c.diagonal as number),
  triu: ([x], c) => x.triu(c.diagonal as number),
  ...Object.fromEntries(
    (["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "log1p", "expm1"] as const).map((op) => [
      op,
      ([x]: Tensor[]) => x[op](),
    ]),
  ),
  ...Object.fromEntries(
    (["round", "floor", "ceil", "trunc"] as const).map((op) => [op, ([x]: Tensor[]) => x[op]()]),
  ),
  atan2: ([y, x]) => y.atan2(x),
  cumsum: ([x], c) => x.cumsum(c.dim as number),
  cumprod: ([x], c) => x.cumprod(c.dim as number),
  prod: ([x], c) => x.prod(c.dim as number | undefined, (c.keepdim as boolean | undefined) ?? false),
  sort: ([x], c) => x.sort(c.dim as number, c.descending as boolean)[0],
  "sort.indices": ([x], c) => indices(x.sort(c.dim as number, c.descending as boolean)),
  argsort: ([x], c) => x.argsort(c.dim as number, c.descending as boolean).to("float64"),
  topk: ([x], c) => x.topk(c.k as number, c.dim as number, c.largest as boolean)[0],
  "topk.indices": ([x], c) => indices(x.topk(c.k as number, c.dim as number, c.largest as boolean)),
};

const CASES = loadCoreFixtures("tensor-ops.json", ...Object.keys(OPS));
const ACCUMULATED = new Set(["cumsum", "cumprod", "prod"]);

function tolerance(op: string, dtype: DType) {
  if (dtype === "float64") return { rtol: 1e-12, atol: 1e-14 };
  return ACCUMULATED.has(op) ? { rtol: 1e-4, atol: 1e-5 } : { rtol: 1e-5, atol: 1e-6 };
}

describe.each(CASES)("$name ($op) against PyTorch", ({ op, config, inputs, expected }) => {
  it.each(["float64", "float32"] as const)("%s", (dtype) => {
    const names = Object.keys(inputs).filter((name) => name !== "dy");
    // The float32 inputs are the float64 values rounded: compare them at the rounded points' scale.
    const leaves = names.map((name) =>
      fromFixture(inputs[name] as FixtureTensor, dtype, { requiresGrad: true }),
    );
    const output = OPS[op](leaves, config);
    expect(output).toBeAllclose(expected.output, tolerance(op, dtype));
    if (Object.keys(expected.grads).length === 0) return;
    output.backward(fromFixture(inputs.dy, output.dtype));
    names.forEach((name, i) => {
      expect(leaves[i].grad, `grad ${name}`).toBeAllclose(expected.grads[name], tolerance(op, dtype));
    });
  });
});

const SMOOTH: { name: string; fn: (x: Tensor) => Tensor; domain?: "positive" }[] = [
  { name: "flip([0, 1])", fn: (x) => x.flip([0, 1]) },
  { name: "roll(1, 0) and roll(-2, 1)", fn: (x) => x.roll([1, -2], [0, 1]) },
  { name: "roll (flattened)", fn: (x) => x.roll(4) },
  { name: "repeat(2, 1, 2)", fn: (x) => x.repeat(2, 1, 2) },
  { name: "split(2, 1) joined", fn: (x) => joined(x.split(2, 1)) },
  { name: "chunk(2, 0) joined", fn: (x) => joined(x.chunk(2, 0)) },
  { name: "tril(0)", fn: (x) => x.tril() },
  { name: "triu(1)", fn: (x) => x.triu(1) },
  { name: "viewAs", fn: (x) => x.viewAs(tensor([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]])) },
  { name: "sin", fn: (x) => x.mul(3).sin() },
  { name: "cos", fn: (x) => x.mul(3).cos() },
  { name: "tan", fn: (x) => x.tan() },
  { name: "asin", fn: (x) => x.mul(0.3).asin() },
  { name: "acos", fn: (x) => x.mul(0.3).acos() },
  { name: "atan", fn: (x) => x.mul(2).atan() },
  { name: "atan2 against a fixed x", fn: (x) => x.atan2(tensor([[-1, 2, -0.5, 0.1]], { dtype: "float64" })) },
  { name: "atan2 as the x", fn: (x) => tensor([[0.3, -2, 1, -0.1]], { dtype: "float64" }).atan2(x) },
  { name: "sinh", fn: (x) => x.sinh() },
  { name: "cosh", fn: (x) => x.cosh() },
  { name: "log1p", fn: (x) => x.log1p(), domain: "positive" },
  { name: "expm1", fn: (x) => x.expm1() },
  { name: "cumsum(1)", fn: (x) => x.cumsum(1) },
  { name: "cumprod(1)", fn: (x) => x.cumprod(1) },
  { name: "cumprod(0)", fn: (x) => x.cumprod(0) },
  { name: "prod(1)", fn: (x) => x.prod(1) },
  { name: "prod over all", fn: (x) => x.prod() },
  { name: "sort(1) values", fn: (x) => x.sort(1)[0] },
  { name: "topk(2, 0, smallest) values", fn: (x) => x.topk(2, 0, false)[0] },
];

describe.each(SMOOTH)("$name", ({ fn, domain = "normal" as const }) => {
  const shape = [3, 4];
  it.each(VIEW_MAKERS)("gradcheck on a $name input", (view) => {
    const leaf = seeded(view.leafShape(shape), 31, { domain });
    checkGradients((x) => fn(view.apply(x, shape)), [leaf]);
  });
  it("gradgradcheck", () => {
    const reports = gradgradcheck(fn, [seeded(shape, 32, { domain })]);
    expect(reports.length).toBeGreaterThan(0);
  });
});

describe("zero gradients and PyTorch details", () => {
  it.each(["round", "floor", "ceil", "trunc"] as const)("%s: gradient 0, int32 unchanged", (op) => {
    const x = tensor([0.5, -1.5, 2.2], { dtype: "float64", requiresGrad: true });
    x[op]().sum().backward();
    expect(x.grad?.tolist()).toEqual([0, 0, 0]);
    const ints = tensor([3, -4], { dtype: "int32" });
    expect(ints[op]().tolist()).toEqual([3, -4]);
  });

  it("expm1 and log1p keep every digit of tiny x (exp(x) − 1 and log(1 + x) do not)", () => {
    const values = [1e-12, -3e-17];
    const x = tensor(values, { dtype: "float64" });
    expect(x.expm1()).toBeAllclose(values.map(Math.expm1), { rtol: 1e-15, atol: 0 });
    expect(x.log1p()).toBeAllclose(values.map(Math.log1p), { rtol: 1e-15, atol: 0 });
    expect(x.exp().sub(1).tolist()).not.toEqual(values.map(Math.expm1));
  });

  it("sort puts NaN last ascending and first descending; indices are int32", () => {
    const x = tensor([2, Number.NaN, -1, 2], { dtype: "float64" });
    const [values, order] = x.sort();
    expect(values.tolist()).toEqual([-1, 2, 2, Number.NaN]);
    expect(order.dtype).toBe("int32");
    expect(order.tolist()).toEqual([2, 0, 3, 1]);
    expect(x.argsort(0, true).tolist()).toEqual([1, 0, 3, 2]);
  });

  it("chunk and split return views of the requested sizes", () => {
    const x = tensor([[1, 2, 3, 4, 5]]);
    expect(x.chunk(3, 1).map((p) => p.shape)).toEqual([
      [1, 2],
      [1, 2],
      [1, 1],
    ]);
    expect(x.split([0, 5], -1).map((p) => p.shape)).toEqual([
      [1, 0],
      [1, 5],
    ]);
    expect(x.prod(0, true).tolist()).toEqual([[1, 2, 3, 4, 5]]);
    expect(tensor([], { dtype: "float64" }).prod().item()).toBe(1);
  });
});

describe("errors name the bad value", () => {
  const x = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  it.each<[string, () => unknown, RegExp]>([
    ["flip repeated dim", () => x.flip([1, -1]), /flip: dim 1 appears more than once/],
    ["flip bad dim", () => x.flip(2), /dim 2 is out of range for a tensor of rank 2/],
    ["roll shifts vs dims", () => x.roll([1, 2], 0), /roll: 2 shift\(s\) for 1 dim\(s\)/],
    ["roll without dims", () => x.roll([1, 2]), /roll without dims takes one shift, got \[1, 2\]/],
    ["repeat too few", () => x.repeat(2), /repeat\(2\): give at least one size per dim of \[2, 3\]/],
    ["repeat negative", () => x.repeat(2, -1), /repeat: sizes must be non-negative integers, got -1/],
    ["chunk 0", () => x.chunk(0), /chunk: chunks must be a positive integer, got 0/],
    ["split 0", () => x.split(0, 1), /split: split size 0 must be a positive integer .*dim 1 has size 3/],
    ["split sums", () => x.split([1, 1], 1), /split: sizes \[1, 1\] must be .* adding up to 3/],
    ["tril 1-D", () => tensor([1, 2]).tril(), /tril needs at least 2 dims, got shape \[2\]/],
    ["triu fraction", () => x.triu(0.5), /triu: diagonal 0.5 is not an integer/],
    ["topk k too large", () => x.topk(4), /topk: k 4 is out of range for dim -1 of size 3/],
    ["topk negative", () => x.topk(-1, 0), /topk: k -1 is out of range for dim 0 of size 2/],
    ["sort bad dim", () => x.sort(3), /dim 3 is out of range/],
    ["cumsum bad dim", () => x.cumsum(-3), /dim -3 is out of range/],
  ])("%s", (_, fn, message) => {
    expect(fn).toThrow(message);
  });
});
