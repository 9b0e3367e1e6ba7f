// The bool dtype against PyTorch 1.13.1 (test/fixtures/bool.json): comparisons, promotion, bool arithmetic, casts, sums, printing; errors.
import { readFileSync } from "node:fs";
import "@normgrad/testing";
import { describe, expect, it } from "vitest";
import {
  DTYPES,
  type DType,
  promoteTypes,
  rand,
  randn,
  type Tensor,
  tensor,
  where,
  zeros,
} from "../src/index.ts";

interface Expected {
  dtype: "bool" | "int32" | "float32" | "float64";
  data: (number | string)[];
  shape: number[];
}

const fixture: {
  cases: Record<string, Expected>;
  promotion: Record<string, { promoted: DType; add: DType }>;
  repr: string;
  repr2d: string;
} = JSON.parse(readFileSync(new URL("./fixtures/bool.json", import.meta.url), "utf8"));

const a = () => tensor([1, 0, 1, 0], { dtype: "bool" });
const b = () => tensor([1, 1, 0, 0], { dtype: "bool" });
const i = () => tensor([2, 0, -1, 3], { dtype: "int32" });
const f = () => tensor([0.5, -1, 0, 2]);

const RUNS: Record<string, () => Tensor> = {
  "a.add(b)": () => a().add(b()),
  "a.mul(b)": () => a().mul(b()),
  "a.maximum(b)": () => a().maximum(b()),
  "a.minimum(b)": () => a().minimum(b()),
  "a.div(b)": () => a().div(b()),
  "a.add(i)": () => a().add(i()),
  "a.mul(f)": () => a().mul(f()),
  "a.add(1)": () => a().add(1),
  "a.mul(0.5)": () => a().mul(0.5),
  "a.eq(b)": () => a().eq(b()),
  "f.gt(0)": () => f().gt(0),
  "i.le(a)": () => i().le(a()),
  "a.sum()": () => a().sum(),
  "a.to(float32)": () => a().to("float32"),
  "f.to(bool)": () => f().to("bool"),
  "i.to(bool)": () => i().to("bool"),
  "nan.to(bool)": () => tensor([Number.NaN, 0]).to("bool"),
  "where(a, f, 0)": () => where(a(), f(), tensor(0)),
  "a.logicalNot()": () => a().logicalNot(),
  "a.max()": () => a().max(),
};

describe("bool against PyTorch", () => {
  it.each(Object.keys(fixture.cases))("%s", (name) => {
    const expected = fixture.cases[name];
    const key = name === "a.logical_not()" ? "a.logicalNot()" : name;
    const run = RUNS[key];
    if (run === undefined) throw new Error(`no normgrad form of ${name}`);
    const result = run();
    expect(result.dtype).toBe(expected.dtype);
    expect(result.shape).toEqual(expected.shape);
    const values = expected.data.map((x) =>
      typeof x === "string" ? Number(x.replace("inf", "Infinity")) : x,
    );
    const actual = [...result.dataSync()];
    expect(actual.map((x) => (Number.isNaN(x) ? "NaN" : x))).toEqual(
      values.map((x) => (Number.isNaN(x) ? "NaN" : x)),
    );
  });

  it.each(DTYPES.flatMap((a) => DTYPES.map((b) => [a, b] as const)))(
    "promotes %s with %s as torch.promote_types",
    (a, b) => {
      const { promoted, add } = fixture.promotion[`${a},${b}`];
      const [x, y] = [tensor([1, 0], { dtype: a }), tensor([1, 0], { dtype: b })];
      expect(promoteTypes(a, b)).toBe(promoted);
      expect(x.add(y).dtype).toBe(add);
      expect(where(tensor([true, false]), x, y).dtype).toBe(promoted);
    },
  );

  it("prints True and False as PyTorch (then normgrad's shape and dtype)", () => {
    expect(a().toString()).toBe(`${fixture.repr.slice(0, -1)}, shape=[4], dtype=bool)`);
    expect(tensor([[1], [0]], { dtype: "bool" }).toString()).toBe(
      `${fixture.repr2d.slice(0, -1)}, shape=[2, 1], dtype=bool)`,
    );
  });
});

describe("bool storage and errors", () => {
  it("stores one byte per element, 0 or 1 whatever was given", () => {
    const mask = tensor([0, 2, -0.5, Number.NaN], { dtype: "bool" });
    expect(mask.dataSync()).toBeInstanceOf(Uint8Array);
    expect([...mask.dataSync()]).toEqual([0, 1, 1, 1]);
    expect([...zeros([2], { dtype: "bool" }).fullLike(7).dataSync()]).toEqual([1, 1]);
  });

  it("builds bool from booleans, as torch.tensor([True, False])", () => {
    const mask = tensor([[true], [false]]);
    expect(mask.dtype).toBe("bool");
    expect([...mask.dataSync()]).toEqual([1, 0]);
    expect(tensor([true, 2]).dtype).toBe("float32");
    expect(tensor([true, false], { dtype: "float64" }).dtype).toBe("float64");
    expect(tensor([]).dtype).toBe("float32");
    expect(tensor(new Uint8Array([0, 1])).dtype).toBe("bool");
  });

  it("maskedFill of a bool tensor takes any number (nonzero, NaN too, is true)", () => {
    expect([
      ...a()
        .maskedFill(tensor([false, true, false, false]), Number.NaN)
        .dataSync(),
    ]).toEqual([1, 1, 1, 0]);
  });

  it("refuses what PyTorch refuses: subtracting or negating bools, gradients of bools, random fractions as bool", () => {
    expect(() => a().sub(b())).toThrow(/sub of two bool tensors is not supported .*logicalXor/);
    expect(() => a().neg()).toThrow(/neg of a bool tensor is not supported .*logicalNot/);
    expect(() => a().requiresGrad_()).toThrow(/only float tensors can require grad, this one is bool/);
    expect(() => randn([2], { dtype: "bool" })).toThrow(
      /randn needs a floating dtype \(float32 or float64\), got bool/,
    );
    expect(() => rand([2], { dtype: "int32" })).toThrow(
      /rand needs a floating dtype \(float32 or float64\), got int32/,
    );
  });
});
