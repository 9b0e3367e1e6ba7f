// clipGradNorm and clipGradValue: worked examples, norm orders, skipped parameters, errors, and the cap against PyTorch.
import { readFileSync } from "node:fs";
import { type Tensor, tensor } from "@normgrad/core";
// Registers the toBeAllclose matcher.
import "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { clipGradNorm, clipGradValue } from "../src/index.ts";

function withGrad(grad: number[] | null): Tensor {
  const param = tensor(grad?.map(() => 0) ?? [0], { dtype: "float64" }).requiresGrad_();
  param.grad = grad === null ? null : tensor(grad, { dtype: "float64" });
  return param;
}

describe("clipGradNorm", () => {
  it("scales all gradients together so their 2-norm is maxNorm, and returns the norm before", () => {
    // ‖(3, 4, 12)‖ = 13; the third parameter has no gradient and is skipped.
    const params = [withGrad([3, 4]), withGrad([12]), withGrad(null)];
    const total = clipGradNorm(params, 6.5);
    expect(total.shape).toEqual([]);
    expect(total.item()).toBeCloseTo(13, 14);
    const scale = 6.5 / (13 + 1e-6);
    expect(params[0].grad?.tolist()).toEqual([3 * scale, 4 * scale]);
    expect(params[1].grad?.tolist()).toEqual([12 * scale]);
    expect(params[2].grad).toBeNull();
  });

  it("leaves gradients under the limit untouched", () => {
    const param = withGrad([0.3, -0.4]);
    expect(clipGradNorm(param, 1).item()).toBeCloseTo(0.5, 15);
    expect(param.grad?.tolist()).toEqual([0.3, -0.4]);
  });

  it.each([
    ["1", 1, 3 + 4 + 12],
    ["Infinity (the largest |g|)", Number.POSITIVE_INFINITY, 12],
    ["3", 3, (27 + 64 + 1728) ** (1 / 3)],
  ])("normType %s", (_, normType, expected) => {
    const params = [withGrad([3, -4]), withGrad([-12])];
    expect(clipGradNorm(params, 1e9, { normType }).item()).toBeCloseTo(expected, 12);
  });

  it("returns 0 when no parameter has a gradient", () => {
    expect(clipGradNorm([withGrad(null)], 1).item()).toBe(0);
  });

  it.each([
    ["a negative maxNorm", () => clipGradNorm(withGrad([1]), -1), /maxNorm must be >= 0, got -1/],
    [
      "normType 0",
      () => clipGradNorm(withGrad([1]), 1, { normType: 0 }),
      /normType must be > 0 \(or Infinity\), got 0/,
    ],
    [
      "a NaN norm with errorIfNonfinite",
      () => clipGradNorm(withGrad([1, Number.NaN]), 1, { errorIfNonfinite: true }),
      /the total norm of order 2 of the gradients is NaN/,
    ],
  ])("refuses %s", (_, run, message) => {
    expect(run).toThrow(message);
  });
});

interface ClipCase {
  name: string;
  config: { max_norm: number; norm_type: number | "inf"; param_without_grad: boolean };
  inputs: { grads: number[][] };
  expected: { total_norm: number; grads: number[][] };
}

const clipCases: ClipCase[] = JSON.parse(
  readFileSync(new URL("./fixtures/clip-grad-norm.json", import.meta.url), "utf8"),
).cases;

// A second check of the cap, against torch.nn.utils.clip_grad_norm_ (test/fixtures/clip-grad-norm.json):
// the gradients are multiplied by min(1, maxNorm/(‖g‖ + 1e-6)) always, so they shrink at ‖g‖ = maxNorm
// and just below it, stay put from ‖g‖ ≤ maxNorm − 1e-6, and vanish for maxNorm 0.
describe.each(clipCases)("clipGradNorm against PyTorch: $name", ({ config, inputs, expected }) => {
  it("returns torch's total norm and leaves torch's gradients", () => {
    const params = inputs.grads.map((grad) => withGrad(grad));
    if (config.param_without_grad) params.push(withGrad(null));
    const normType = config.norm_type === "inf" ? Number.POSITIVE_INFINITY : config.norm_type;
    const total = clipGradNorm(params, config.max_norm, { normType });
    expect(total).toBeAllclose([expected.total_norm], { rtol: 1e-14, atol: 0 });
    const grads = params.flatMap((param) => (param.grad === null ? [] : [param.grad]));
    expect(grads).toHaveLength(expected.grads.length);
    grads.forEach((grad, i) => {
      expect(grad, `grad ${i}`).toBeAllclose(expected.grads[i], { rtol: 1e-15, atol: 0 });
    });
  });
});

describe("clipGradValue", () => {
  it("clamps every element into [-clipValue, clipValue]", () => {
    const params = [withGrad([-3, 0.5, 2]), withGrad([-0.25])];
    clipGradValue(params, 1);
    expect(params[0].grad?.tolist()).toEqual([-1, 0.5, 1]);
    expect(params[1].grad?.tolist()).toEqual([-0.25]);
  });

  it("refuses a negative clipValue", () => {
    expect(() => clipGradValue(withGrad([1]), -0.5)).toThrow(/clipValue must be >= 0, got -0.5/);
  });
});
