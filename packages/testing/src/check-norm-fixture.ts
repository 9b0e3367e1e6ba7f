// checkNormFixture: one forward and backward of a normalization layer against a PyTorch fixture's output and gradients.
import { expect } from "vitest";
import type { DType, Tensor } from "../../core/src/index.ts";
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
  /** `x` is the input's gradient; `weight` and `bias` are required where the layer has them. */
  grads: { x: FixtureTensor; weight?: FixtureTensor; bias?: FixtureTensor };
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
  expect(x.grad, `${prefix}grad x`).toBeAllclose(pass.grads.x, tolerance);
  for (const [name, parameter, want] of [
    ["weight", layer.weight, pass.grads.weight],
    ["bias", layer.bias, pass.grads.bias],
  ] as const) {
    if (parameter === null) continue;
    if (want === undefined) throw new Error(`the fixture has no gradient for the layer's ${name}`);
    expect(parameter.grad, `${prefix}grad ${name}`).toBeAllclose(want, tolerance);
  }
}
