// checkNormFixture: one forward and backward of a normalization layer against a PyTorch fixture's output and gradients.
import { expect } from "vitest";
import { type DType, noGrad, type Tensor } from "../../core/src/index.ts";
import { type FixtureTensor, fromFixture } from "./load-fixture.ts";
import type { Tolerance } from "./to-be-allclose.ts";

/** What the check needs of a BatchNorm, LayerNorm, GroupNorm or InstanceNorm layer. */
export interface NormLayer {
  forward(x: Tensor): Tensor;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  zeroGrad(): void;
}

/** One pass of a fixture: its input and upstream gradient, and PyTorch's output and gradients. */
export interface NormFixturePass {
  x: FixtureTensor;
  dy: FixtureTensor;
  output: FixtureTensor;
  /** By name: `x` (the input's), and `weight` and `bias` where the layer has them. */
  grads: Record<string, FixtureTensor>;
}

/**
 * Zeroes the layer's gradients, runs `layer.forward(x).backward(dy)` in `dtype` (in whatever
 * train/eval mode the layer is in) and asserts the output, x's gradient and the affine
 * parameters' gradients (where the layer has them) are allclose to the fixture's. `label`
 * prefixes each assertion's message, e.g. "eval" gives "eval output".
 */
export function checkNormFixture(
  layer: NormLayer,
  pass: NormFixturePass,
  { dtype, tolerance, label = "" }: { dtype: DType; tolerance: Tolerance; label?: string },
): void {
  const prefix = label === "" ? "" : `${label} `;
  layer.zeroGrad();
  const x = fromFixture(pass.x, dtype, { requiresGrad: true });
  const y = layer.forward(x);
  y.backward(fromFixture(pass.dy, dtype));
  expect(y, `${prefix}output`).toBeAllclose(pass.output, tolerance);
  for (const [name, grad] of [
    ["x", x.grad],
    ["weight", layer.weight === null ? undefined : layer.weight.grad],
    ["bias", layer.bias === null ? undefined : layer.bias.grad],
  ] as const) {
    if (grad === undefined) continue; // the layer has no such parameter
    const want: FixtureTensor | undefined = pass.grads[name];
    if (want === undefined) throw new Error(`the fixture has no gradient for ${name}`);
    expect(grad, `${prefix}grad ${name}`).toBeAllclose(want, tolerance);
  }
}

/** Copies a fixture's `weight` and `bias` into the layer's affine parameters (where it has them), without recording. */
export function copyAffineFromFixture(
  layer: NormLayer,
  params: Record<string, FixtureTensor>,
  dtype: DType,
): void {
  noGrad(() => {
    for (const [name, parameter] of [
      ["weight", layer.weight],
      ["bias", layer.bias],
    ] as const) {
      if (parameter === null) continue;
      const value = params[name];
      if (value === undefined) throw new Error(`the fixture has no ${name} for the layer's ${name}`);
      parameter.copy_(fromFixture(value, dtype));
    }
  });
}
