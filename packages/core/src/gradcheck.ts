// gradcheck: float64 central differences against the analytic gradient, for any function of tensors.
import { enableGrad, noGrad, runBackward } from "./autograd.ts";
import { fromValues } from "./creation.ts";
import { grad } from "./grad.ts";
import { cat } from "./ops.ts";
import { Generator } from "./random.ts";
import { formatShape, type Shape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/** Tolerances of `gradcheck`. */
export interface GradcheckOptions {
  /** Finite-difference step. Default 1e-6. */
  eps?: number;
  /** Absolute tolerance. Default 1e-5. */
  atol?: number;
  /** Relative tolerance (of the numerical value). Default 1e-3. */
  rtol?: number;
  /** Seed of the random output weights. Default 0. */
  seed?: number;
}

/** How one input fared: the largest errors and where they are. */
export interface GradcheckInputReport {
  input: number;
  shape: Shape;
  maxAbsError: number;
  maxRelError: number;
  /** Flat index of the element with the largest error relative to its tolerance. */
  worstIndex: number;
  analytic: Float64Array;
  numeric: Float64Array;
}

function unravel(index: number, shape: Shape): number[] {
  const position: number[] = [];
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    position.unshift(index % shape[axis]);
    index = Math.floor(index / shape[axis]);
  }
  return position;
}

/**
 * Checks the gradient of `fn` w.r.t. every input that requires grad. With a fixed random
 * weight `w` on the output (seeded), it compares the analytic gradient of `Σ w·fn(inputs)`
 * (one backward pass) with central differences `(f(x+ε) − f(x−ε)) / 2ε` per input element;
 * an element fails when `|analytic − numeric| > atol + rtol·|numeric|`.
 *
 * Inputs must be float64: in float32 the rounding error of a difference quotient (~1e-7/ε)
 * swamps the gradient. Returns one report per checked input; throws naming the worst element
 * when any fails. Every `.grad` (the inputs', and those of parameters `fn` uses) is left as it
 * was: the analytic gradient is collected without accumulating into them.
 */
export function gradcheck(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  { eps = 1e-6, atol = 1e-5, rtol = 1e-3, seed = 0 }: GradcheckOptions = {},
): GradcheckInputReport[] {
  const checked = inputs.map((input, i) => [input, i] as const).filter(([input]) => input.requiresGrad);
  if (checked.length === 0)
    throw new Error("gradcheck: no input requires grad, so there is nothing to check");
  for (const [input, i] of checked) {
    if (input.dtype !== "float64") {
      throw new TypeError(
        `gradcheck: input ${i} is ${input.dtype}; use float64 (.to("float64")), because float32 rounding ` +
          "error in the difference quotient is larger than the tolerances",
      );
    }
  }
  const output = fn(...inputs);
  if (output.dtype !== "float64") {
    throw new TypeError(`gradcheck: the function returned ${output.dtype}; it must compute in float64`);
  }
  const generator = new Generator(seed);
  const weights = fromValues(
    Array.from({ length: output.size }, () => generator.normal()),
    output.shape,
    { dtype: "float64", device: output.device },
  );
  const objective = (values: readonly Tensor[]): number =>
    noGrad(() =>
      fn(...values)
        .mul(weights)
        .sum()
        .item(),
    );

  const analyticGrads = new Map<Tensor, Tensor>();
  runBackward([output], [weights], {
    retainGraph: false,
    createGraph: false,
    capture: { of: new Set(checked.map(([input]) => input)), into: analyticGrads },
  });

  return checked.map(([input, i]) => {
    const analytic = Float64Array.from(analyticGrads.get(input)?.dataSync() ?? new Float64Array(input.size));
    const base = Float64Array.from(input.dataSync());
    const numeric = new Float64Array(input.size);
    for (let k = 0; k < base.length; k++) {
      const shifted = (delta: number): number => {
        const values = base.slice();
        values[k] += delta;
        const replaced = fromValues(values, input.shape, { dtype: "float64", device: input.device });
        return objective(inputs.map((other, j) => (j === i ? replaced : other)));
      };
      numeric[k] = (shifted(eps) - shifted(-eps)) / (2 * eps);
    }
    let maxAbsError = 0;
    let maxRelError = 0;
    let worstIndex = 0;
    let worstRatio = -1;
    for (let k = 0; k < numeric.length; k++) {
      const error = Math.abs(analytic[k] - numeric[k]);
      const ratio = error / (atol + rtol * Math.abs(numeric[k]));
      maxAbsError = Math.max(maxAbsError, error);
      maxRelError = Math.max(maxRelError, error / Math.max(Math.abs(numeric[k]), 1e-300));
      if (ratio > worstRatio || Number.isNaN(ratio)) {
        worstRatio = Number.isNaN(ratio) ? Number.POSITIVE_INFINITY : ratio;
        worstIndex = k;
      }
    }
    if (worstRatio > 1) {
      throw new Error(
        `gradcheck failed for input ${i} (shape ${formatShape(input.shape)}) at element ` +
          `[${unravel(worstIndex, input.shape).join(", ")}]: analytic ${analytic[worstIndex]}, ` +
          `numeric ${numeric[worstIndex]} (atol ${atol}, rtol ${rtol}, eps ${eps})`,
      );
    }
    return { input: i, shape: input.shape, maxAbsError, maxRelError, worstIndex, analytic, numeric };
  });
}

/**
 * Checks second derivatives (PyTorch's `gradgradcheck`): with seeded random output weights `v`
 * (float64, requiring grad), it runs `gradcheck` on the function `(inputs, v) ↦ ∇ Σ v·fn(inputs)`
 * computed by `grad(…, { createGraph: true })`, so the gradient of the gradient — through every
 * VJP rule `fn` uses — is compared with central differences of the analytic gradient, w.r.t. the
 * inputs and `v`. Same options, defaults and report as `gradcheck` (one report per input that
 * requires grad, then one for `v`); throws naming the worst element when one fails, and leaves
 * every `.grad` as it was. Inputs must be float64.
 */
export function gradgradcheck(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options: GradcheckOptions = {},
): GradcheckInputReport[] {
  const differentiable = inputs.filter((input) => input.requiresGrad);
  if (differentiable.length === 0) {
    throw new Error("gradgradcheck: no input requires grad, so there is nothing to check");
  }
  const probe = noGrad(() => fn(...inputs));
  const generator = new Generator((options.seed ?? 0) + 1);
  const outputWeights = fromValues(
    Array.from({ length: probe.size }, () => generator.normal()),
    probe.shape,
    { dtype: "float64", device: probe.device },
  ).requiresGrad_();
  // The first derivative as a function of its own: recorded even where gradcheck evaluates it
  // under noGrad, and w.r.t. fresh leaves where gradcheck passes shifted copies of the inputs.
  const firstGradients = (...values: Tensor[]): Tensor =>
    enableGrad(() => {
      const given = values
        .slice(0, inputs.length)
        .map((value, i) =>
          inputs[i].requiresGrad && !value.requiresGrad ? value.detach().requiresGrad_() : value,
        );
      const weights = values[inputs.length];
      const wrt = given.filter((_, i) => inputs[i].requiresGrad);
      const gradients = grad([fn(...given)], wrt, {
        gradOutputs: [weights],
        createGraph: true,
        allowUnused: true,
      });
      // An input the output does not depend on has gradient 0 (and so does its second derivative).
      return cat(gradients.map((gradient, k) => (gradient ?? wrt[k].zerosLike()).reshape([-1])));
    });
  return gradcheck(firstGradients, [...inputs, outputWeights], options);
}
