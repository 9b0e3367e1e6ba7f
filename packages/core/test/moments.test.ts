// moments(): the three variance algorithms against a float64 reference, options, gradients, and the one-pass failure.
import { seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import {
  fromValues,
  Generator,
  moments,
  type Tensor,
  tensor,
  type VarianceAlgorithm,
  zeros,
} from "../src/index.ts";
import { checkGradients } from "./helpers.ts";

const ALGORITHMS: readonly VarianceAlgorithm[] = ["two-pass", "welford", "one-pass"];

/** Mean and variance over `axes` from plain loops in float64: the reference. */
function referenceMoments(x: Tensor, axes: readonly number[], correction: number) {
  const values = x.dataSync();
  const shape = x.shape;
  const keptShape = shape.map((dim, axis) => (axes.includes(axis) ? 1 : dim));
  const groups = new Map<number, number[]>();
  const strides = shape.map((_, axis) => shape.slice(axis + 1).reduce((a, b) => a * b, 1));
  const keptStrides = keptShape.map((_, axis) => keptShape.slice(axis + 1).reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) {
    let key = 0;
    shape.forEach((_, axis) => {
      const index = Math.floor(i / strides[axis]) % shape[axis];
      if (!axes.includes(axis)) key += index * keptStrides[axis];
    });
    const group = groups.get(key) ?? [];
    group.push(values[i]);
    groups.set(key, group);
  }
  const keys = [...groups.keys()].sort((a, b) => a - b);
  const mean = keys.map((key) => {
    const group = groups.get(key) ?? [];
    return group.reduce((a, b) => a + b, 0) / group.length;
  });
  const variance = keys.map((key, i) => {
    const group = groups.get(key) ?? [];
    return group.reduce((sum, v) => sum + (v - mean[i]) ** 2, 0) / (group.length - correction);
  });
  return { mean, variance };
}

describe.each(ALGORITHMS)("moments, %s", (algorithm) => {
  it.each([
    { axes: [0], correction: 0 },
    { axes: [1], correction: 1 },
    { axes: [0, 2], correction: 0 },
    { axes: [0, 1, 2], correction: 1 },
    { axes: [2], correction: 0 },
  ])("matches the float64 reference over axes $axes with correction $correction", ({ axes, correction }) => {
    const x = seeded([5, 3, 7], 3, { requiresGrad: false }).mul(2).add(1);
    const { mean, variance } = moments(x, axes, { algorithm, correction });
    const expected = referenceMoments(x, axes, correction);
    expect(mean).toBeAllclose(expected.mean, { rtol: 1e-12, atol: 1e-12 });
    expect(variance).toBeAllclose(expected.variance, { rtol: 1e-12, atol: 1e-12 });
    expect(mean.shape).toEqual(x.shape.filter((_, axis) => !axes.includes(axis)));
  });

  it("keeps the reduced dims with keepdim, takes negative axes, and all axes by default", () => {
    const x = seeded([2, 3, 4], 4, { requiresGrad: false });
    expect(moments(x, [-1], { algorithm, keepdim: true }).variance.shape).toEqual([2, 3, 1]);
    const all = moments(x, undefined, { algorithm });
    expect(all.mean.shape).toEqual([]);
    expect(all.variance).toBeAllclose([x.var(undefined, { correction: 0 }).item()], {
      rtol: 1e-12,
      atol: 1e-14,
    });
  });

  it("is differentiable: float64 gradcheck of mean and variance", () => {
    const x = seeded([4, 5], 5);
    checkGradients((input) => moments(input, [0], { algorithm, correction: 1 }).variance, [x]);
    checkGradients((input) => moments(input, [1], { algorithm }).mean, [x]);
  });

  it("clamps the variance of constant data at 0", () => {
    const { variance } = moments(fromValues([0.1, 0.1, 0.1, 0.1, 0.1], [5], { dtype: "float32" }), [0], {
      algorithm,
    });
    expect(variance.item()).toBe(0);
  });
});

describe("moments on float32 data with mean 1e4 and std 1e-2", () => {
  // The numerics_* fixtures' setting: a float32 mean near 1e4 is only good to ~1e-3 (ulp 2⁻¹⁰).
  const generator = new Generator(7);
  const values = Array.from({ length: 256 }, () => 1e4 + 1e-2 * generator.normal());
  const x = fromValues(values, [256], { dtype: "float32" });
  const exact = referenceMoments(x.to("float64"), [0], 0).variance[0];
  const relativeError = (algorithm: VarianceAlgorithm) =>
    Math.abs(moments(x, [0], { algorithm }).variance.item() - exact) / exact;

  it("two-pass (shifted by one of the values, exact in float32) keeps the variance", () => {
    expect(relativeError("two-pass")).toBeLessThan(1e-6);
  });

  it("Welford stays within a few percent: its running mean is rounded to float32", () => {
    expect(relativeError("welford")).toBeLessThan(0.1);
  });

  it("one-pass E[x²] − E[x]² cancels catastrophically (a documented, asserted failure)", () => {
    expect(relativeError("one-pass")).toBeGreaterThan(0.5);
  });
});

describe("moments errors", () => {
  it.each([
    [
      "an int tensor",
      () => moments(zeros([3], { dtype: "int32" })),
      'moments needs a float tensor, got int32: convert it with .to("float32")',
    ],
    [
      "an empty selection",
      () => moments(zeros([0, 3]), [0]),
      "moments over an empty selection of shape [0, 3]",
    ],
    [
      "correction ≥ n",
      () => moments(tensor([1]), [0], { correction: 1 }),
      "moments over 1 element(s) with correction 1 divides by 0",
    ],
    [
      "an axis out of range",
      () => moments(zeros([2, 3]), [2]),
      "dim 2 is out of range for a tensor of rank 2",
    ],
  ])("rejects %s", (_, run, message) => {
    expect(run).toThrow(message);
  });
});
