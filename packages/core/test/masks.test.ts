// maskedFill, maskedSelect, any/all, isnan/isinf/isfinite, nonzero and the logical ops against PyTorch 1.13.1 (test/fixtures/masks.json).
import { readFileSync } from "node:fs";
import "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { type DType, gradcheck, randn, type Tensor, tensor } from "../src/index.ts";

interface FixtureTensor {
  shape: number[];
  data: (number | "nan" | "inf" | "-inf")[];
  dtype: "bool" | "int" | "float";
}

interface Case {
  name: string;
  op:
    | "maskedFill"
    | "maskedSelect"
    | "any"
    | "all"
    | "isnan"
    | "isinf"
    | "isfinite"
    | "nonzero"
    | "logicalNot"
    | "logicalAnd"
    | "logicalOr"
    | "logicalXor";
  args: { value?: number | string; dim?: number; keepdim?: boolean };
  inputs: Record<string, FixtureTensor>;
  dy: FixtureTensor | null;
  expected: { output: FixtureTensor; grads: Record<string, FixtureTensor> };
}

const { cases }: { cases: Case[] } = JSON.parse(
  readFileSync(new URL("./fixtures/masks.json", import.meta.url), "utf8"),
);

const value = (x: number | string): number =>
  x === "nan" ? Number.NaN : x === "inf" ? Infinity : x === "-inf" ? -Infinity : Number(x);
const fromFixture = (t: FixtureTensor, dtype: DType): Tensor =>
  tensor(t.data.map(value), {
    dtype: t.dtype === "bool" ? "bool" : t.dtype === "int" ? "int32" : dtype,
  }).reshape(t.shape);

function apply({ op, args }: Case, x: Tensor, other: Record<string, Tensor>): Tensor {
  switch (op) {
    case "maskedFill": {
      // The −∞ case is followed by a softmax, as attention uses it (the generator does the same).
      const filled = x.maskedFill(other.mask, value(args.value ?? 0));
      return args.value === "-inf" ? filled.softmax(-1) : filled;
    }
    case "maskedSelect":
      return x.maskedSelect(other.mask);
    case "any":
      return x.any(args.dim, args.keepdim);
    case "all":
      return x.all(args.dim, args.keepdim);
    case "isnan":
    case "isinf":
    case "isfinite":
    case "nonzero":
    case "logicalNot":
      return x[op]();
    case "logicalAnd":
    case "logicalOr":
    case "logicalXor":
      return x[op](other.y);
    default:
      return op satisfies never;
  }
}

describe.each(["float64", "float32"] as const)("against PyTorch (%s)", (dtype) => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_, fixture) => {
    const { x: xFixture, ...rest } = fixture.inputs;
    const x = fromFixture(xFixture, dtype).requiresGrad_(xFixture.dtype === "float");
    const others = Object.fromEntries(Object.entries(rest).map(([name, t]) => [name, fromFixture(t, dtype)]));
    const output = apply(fixture, x, others);
    const expected = fixture.expected.output;
    if (expected.dtype !== "float") expect(output.dtype).toBe(expected.dtype === "bool" ? "bool" : "int32");
    expect(output).toBeAllclose(fromFixture(expected, "float64"), {
      rtol: 1e-6,
      atol: dtype === "float64" ? 0 : 1e-7,
    });
    const grad = fixture.expected.grads.x;
    if (grad === undefined || fixture.dy === null) return;
    output.backward(fromFixture(fixture.dy, dtype));
    expect(x.grad).toBeAllclose(fromFixture(grad, "float64"), { rtol: 1e-6, atol: 1e-7 });
  });
});

describe("gradcheck (float64) and errors", () => {
  const mask = tensor(
    [
      [1, 0, 0],
      [0, 1, 1],
    ],
    { dtype: "int32" },
  );

  it("maskedFill and maskedSelect", () => {
    const x = () => randn([2, 3], { dtype: "float64" }).requiresGrad_();
    expect(gradcheck((t) => t.maskedFill(mask, 2), [x()])).toHaveLength(1);
    expect(gradcheck((t) => t.maskedSelect(mask), [x()])).toHaveLength(1);
    // bool masks that broadcast: a row for maskedFill, both ways for maskedSelect.
    const bool = mask.to("bool");
    expect(gradcheck((t) => t.maskedFill(bool.slice(0, 1), -1), [x()])).toHaveLength(1);
    expect(gradcheck((t) => t.maskedSelect(bool.reshape([2, 1, 3])), [x()])).toHaveLength(1);
  });

  it("names the mask's dtype and shape", () => {
    const x = randn([2, 3]);
    expect(() => x.maskedFill(randn([2, 3]), 0)).toThrow(
      /mask must be bool \(or int32 0\/1\), got float32: build it with a comparison/,
    );
    expect(x.maskedFill(tensor([[1, 0, 1]], { dtype: "int32" }), 0).dataSync()[0]).toBe(0);
    expect(() => x.maskedFill(tensor([[1, 0]], { dtype: "bool" }), 0)).toThrow(
      /mask \[1, 2\] does not broadcast to the input's \[2, 3\]/,
    );
    expect(() =>
      tensor([1, 2], { dtype: "int32" }).maskedFill(tensor([1, 0], { dtype: "int32" }), Number.NaN),
    ).toThrow(/NaN does not fit an int32 tensor/);
  });
});
