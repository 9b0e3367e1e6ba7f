// scatter, scatterAdd, indexAdd, vectorNorm/matrixNorm/norm and einsum against PyTorch 1.13.1 (test/fixtures/scatter-norm-einsum.json), gradcheck, errors.
import { readFileSync } from "node:fs";
import "@normgrad/testing";
import { describe, expect, it } from "vitest";
import {
  type DType,
  einsum,
  gradcheck,
  manualSeed,
  matrixNorm,
  randn,
  type Tensor,
  tensor,
  vectorNorm,
} from "../src/index.ts";

interface FixtureTensor {
  shape: number[];
  data: number[];
}

interface Case {
  name: string;
  op: "scatter" | "scatterAdd" | "indexAdd" | "vectorNorm" | "matrixNorm" | "norm" | "einsum";
  args: Record<string, unknown>;
  inputs: Record<string, FixtureTensor & { int: boolean }>;
  dy: FixtureTensor;
  expected: { output: FixtureTensor; grads: Record<string, FixtureTensor> };
}

const { cases }: { cases: Case[] } = JSON.parse(
  readFileSync(new URL("./fixtures/scatter-norm-einsum.json", import.meta.url), "utf8"),
);

const fromFixture = (t: FixtureTensor, dtype: DType): Tensor => tensor(t.data, { dtype }).reshape(t.shape);
const order = (text: unknown): number =>
  text === "inf" ? Infinity : text === "-inf" ? -Infinity : Number(text);
const dims = (value: unknown): number[] | undefined => (Array.isArray(value) ? value.map(Number) : undefined);

function apply({ op, args }: Case, x: Record<string, Tensor>): Tensor {
  switch (op) {
    case "scatter":
      return x.x.scatter(Number(args.dim), x.index, "value" in args ? Number(args.value) : x.src);
    case "scatterAdd":
      return x.x.scatterAdd(Number(args.dim), x.index, x.src);
    case "indexAdd":
      return x.x.indexAdd(Number(args.dim), x.index, x.source, { alpha: Number(args.alpha) });
    case "vectorNorm":
      return vectorNorm(x.x, order(args.ord), dims(args.dim), args.keepdim === true);
    case "matrixNorm": {
      const [rows, columns] = dims(args.dim) ?? [];
      return matrixNorm(
        x.x,
        args.ord === "fro" ? "fro" : order(args.ord),
        [rows, columns],
        args.keepdim === true,
      );
    }
    case "norm":
      return x.x.norm(args.p === "fro" ? "fro" : order(args.p), dims(args.dim), args.keepdim === true);
    case "einsum":
      return einsum(String(args.equation), ...(args.operands as string[]).map((name) => x[name]));
    default:
      return op satisfies never;
  }
}

describe.each(["float64", "float32"] as const)("against PyTorch (%s)", (dtype) => {
  const tolerance = dtype === "float64" ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-5 };
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_, fixture) => {
    const inputs = Object.fromEntries(
      Object.entries(fixture.inputs).map(([name, value]) => [
        name,
        value.int ? fromFixture(value, "int32") : fromFixture(value, dtype).requiresGrad_(),
      ]),
    );
    const output = apply(fixture, inputs);
    expect(output).toBeAllclose(fromFixture(fixture.expected.output, "float64"), tolerance);
    if (Object.keys(fixture.expected.grads).length === 0) return;
    if (!output.requiresGrad) {
      // ord 0 counts nonzeros: no gradient here, an all-zero one in PyTorch.
      for (const expected of Object.values(fixture.expected.grads))
        expect(expected.data.every((g) => g === 0)).toBe(true);
      return;
    }
    output.backward(fromFixture(fixture.dy, dtype));
    for (const [name, expected] of Object.entries(fixture.expected.grads)) {
      expect(inputs[name].grad, `grad of ${name}`).toBeAllclose(fromFixture(expected, "float64"), tolerance);
    }
  });
});

describe("gradcheck (float64)", () => {
  const f64 = (shape: number[]) => randn(shape, { dtype: "float64" }).requiresGrad_();
  it("scatter and scatterAdd with a src larger than the index (unused src elements get zero gradient)", () => {
    manualSeed(1);
    const index = tensor(
      [
        [1, 0],
        [2, 1],
      ],
      { dtype: "int32" },
    );
    expect(gradcheck((x, src) => x.scatter(1, index, src), [f64([2, 3]), f64([3, 3])])).toHaveLength(2);
    expect(gradcheck((x, src) => x.scatterAdd(1, index, src), [f64([2, 3]), f64([3, 3])])).toHaveLength(2);
  });

  it("indexAdd, vectorNorm (2, 3, inf), matrixNorm (fro, 1, -inf) and a three-operand einsum", () => {
    manualSeed(2);
    const index = tensor([2, 0, 2], { dtype: "int32" });
    expect(
      gradcheck((x, s) => x.indexAdd(0, index, s, { alpha: 2 }), [f64([3, 2]), f64([3, 2])]),
    ).toHaveLength(2);
    for (const ord of [2, 3, Infinity])
      expect(gradcheck((x) => vectorNorm(x, ord, 1), [f64([3, 4])])).toHaveLength(1);
    for (const ord of ["fro", 1, -Infinity] as const)
      expect(gradcheck((x) => matrixNorm(x, ord), [f64([2, 3, 4])])).toHaveLength(1);
    expect(
      gradcheck((a, b, c) => einsum("ij,jk,kl->il", a, b, c), [f64([2, 3]), f64([3, 2]), f64([2, 2])]),
    ).toHaveLength(3);
  });

  it("the 2-norm's gradient is 0, not NaN, where the norm is 0", () => {
    const x = tensor(
      [
        [0, 0],
        [3, 4],
      ],
      { dtype: "float64" },
    ).requiresGrad_();
    vectorNorm(x, 2, 1).sum().backward();
    expect(x.grad).toBeAllclose([0, 0, 0.6, 0.8], { rtol: 0, atol: 1e-15 });
  });
});

describe("errors name the values", () => {
  it("scatter family", () => {
    const x = randn([3, 4]);
    expect(() => x.scatter(0, tensor([[0, 5]], { dtype: "int32" }), 1)).toThrow(
      /index 5 is out of range for a dim of size 3/,
    );
    expect(() => x.scatter(0, tensor([[0, 1]], { dtype: "float32" }), 1)).toThrow(
      /int32 index of rank 2, got float32 \[1, 2\]/,
    );
    expect(() => x.scatter(0, tensor([[0, 0]], { dtype: "int32" }).expand([2, 2]), randn([2, 2]))).toThrow(
      /scatter: index writes 2 values to one position along dim 0.*use scatterAdd/,
    );
    expect(() => x.scatterAdd(1, tensor([[0, 1, 2]], { dtype: "int32" }), randn([1, 2]))).toThrow(
      /index \[1, 3\] is larger than src \[1, 2\] at dim 1/,
    );
    expect(() => x.indexAdd(0, tensor([0, 1], { dtype: "int32" }), randn([2, 3]))).toThrow(
      /a source shaped as the input \[3, 4\] except 2 along dim 0, got index int32 \[2\] and source \[2, 3\]/,
    );
  });

  it("vectorNorm, matrixNorm and einsum", () => {
    expect(() => vectorNorm(tensor([1, 2], { dtype: "int32" }))).toThrow(/floating-point input, got int32/);
    expect(() => matrixNorm(randn([2, 2]).gt(0))).toThrow(/floating-point input, got bool/);
    expect(() => matrixNorm(randn([3]))).toThrow(
      /rank ≥ 2 and two dims, got shape \[3\] and dims \[-2, -1\]/,
    );
    expect(() => matrixNorm(randn([2, 2]), "fro", [1, -1])).toThrow(/dims \[1, -1\] name the same dimension/);
    expect(() => matrixNorm(randn([2, 2]), 2)).toThrow(/ord 2 is not supported \(the spectral and nuclear/);
    expect(() => einsum("ij,jk->ik", randn([2, 3]))).toThrow(
      /has 2 operand\(s\), but 1 tensor\(s\) were given/,
    );
    expect(() => einsum("ij,jk->ik", randn([2, 3]), randn([4, 2]))).toThrow(
      /subscript "j" has size 3 in operand 0 and 4 in operand 1/,
    );
    expect(() => einsum("ii->i", randn([2, 3]))).toThrow(
      /subscript "i" has size 2 in operand 0 and 3 in operand 0/,
    );
    expect(() => einsum("...i,...i->...", randn([2, 3]), randn([4, 3]))).toThrow(
      /the ellipsis's dim -1 has size 2 in operand 0 and 4 in operand 1/,
    );
    expect(() => einsum("ij->k", randn([2, 3]))).toThrow(/output subscript "k" is in no input/);
    expect(() => einsum("i1->i", randn([2, 3]))).toThrow(/invalid subscript "1"/);
    expect(() => einsum("ijk->i", randn([2, 3]))).toThrow(
      /subscripts "ijk" name 3 dims, but operand 0 has shape \[2, 3\]/,
    );
  });
});
