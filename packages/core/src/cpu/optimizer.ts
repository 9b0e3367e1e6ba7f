// Fused CPU optimizer updates (SGD with momentum, Adam/AdamW): one pass over the typed arrays per parameter.
import type { AdamStepOptions, SgdStepOptions } from "../backend.ts";
import type { TypedArray } from "../dtype.ts";
import { wasmMomentumStep } from "./wasm-elementwise.ts";

// One loop instead of the ~6 tensor ops of the composed update, each of which allocates a
// temporary. Every element is computed in JavaScript doubles and rounded once when stored, except
// float32 momentum SGD, whose wasm kernel rounds each operation to float32 as PyTorch's float32 SGD does.

/**
 * One SGD step in place on `param` and `buffer` (null without momentum), reading `grad`: the
 * update documented on `SgdStepOptions`. All three have the parameter's length.
 */
export function sgdStep(
  param: TypedArray,
  grad: TypedArray,
  buffer: TypedArray | null,
  options: SgdStepOptions,
): void {
  const { lr, momentum, dampening, nesterov, weightDecay, maximize, firstStep } = options;
  // The usual settings get loops without per-element branches (V8 does not hoist them; the
  // general loop ran at 4.6 ns per element, W4's 266k parameters 1.2 ms), float32 momentum SGD
  // the wasm kernel.
  const usual = weightDecay === 0 && !maximize && !nesterov;
  if (usual && buffer === null) {
    plainStep(param, grad, lr);
    return;
  }
  if (usual && buffer !== null && !firstStep) {
    const keep = 1 - dampening;
    const float32 =
      param instanceof Float32Array && grad instanceof Float32Array && buffer instanceof Float32Array;
    if (!float32 || !wasmMomentumStep(param, grad, buffer, { lr, momentum, keep })) {
      momentumStep(param, grad, buffer, lr, momentum, keep);
    }
    return;
  }
  generalSgdStep(param, grad, buffer, options);
}

/** p −= lr·g. */
function plainStep(param: TypedArray, grad: TypedArray, lr: number): void {
  for (let i = 0; i < param.length; i++) param[i] -= lr * grad[i];
}

/** b = μ·b + (1 − τ)·g, p −= lr·b. */
function momentumStep(
  param: TypedArray,
  grad: TypedArray,
  buffer: TypedArray,
  lr: number,
  momentum: number,
  keep: number,
) {
  for (let i = 0; i < param.length; i++) {
    buffer[i] = momentum * buffer[i] + keep * grad[i];
    param[i] -= lr * buffer[i];
  }
}

function generalSgdStep(
  param: TypedArray,
  grad: TypedArray,
  buffer: TypedArray | null,
  { lr, momentum, dampening, nesterov, weightDecay, maximize, firstStep }: SgdStepOptions,
): void {
  for (let i = 0; i < param.length; i++) {
    let d = maximize ? -grad[i] : grad[i];
    if (weightDecay !== 0) d += weightDecay * param[i];
    if (buffer !== null) {
      buffer[i] = firstStep ? d : momentum * buffer[i] + (1 - dampening) * d;
      d = nesterov ? d + momentum * buffer[i] : buffer[i];
    }
    param[i] -= lr * d;
  }
}

/** Adam's moments as typed arrays of the parameter's length (`maxExpAvgSq` null without AMSGrad). */
export interface AdamArrays {
  readonly expAvg: TypedArray;
  readonly expAvgSq: TypedArray;
  readonly maxExpAvgSq: TypedArray | null;
}

/** One Adam/AdamW step in place on `param` and the moments: the update documented on `AdamStepOptions`. */
export function adamStep(
  param: TypedArray,
  grad: TypedArray,
  { expAvg: m, expAvgSq: v, maxExpAvgSq: vMax }: AdamArrays,
  options: AdamStepOptions,
): void {
  const { lr, beta1, beta2, eps, weightDecay, decoupledWeightDecay, amsgrad, maximize, step } = options;
  const stepSize = lr / (1 - beta1 ** step);
  const correction2Sqrt = Math.sqrt(1 - beta2 ** step);
  const decay = decoupledWeightDecay ? 1 - lr * weightDecay : 1;
  const l2 = decoupledWeightDecay ? 0 : weightDecay;
  const maximum = amsgrad ? vMax : null;
  for (let i = 0; i < param.length; i++) {
    let d = maximize ? -grad[i] : grad[i];
    const p = param[i] * decay;
    if (l2 !== 0) d += l2 * p;
    m[i] = m[i] * beta1 + (1 - beta1) * d;
    v[i] = v[i] * beta2 + (1 - beta2) * d * d;
    let second = v[i];
    if (maximum !== null) second = maximum[i] = Math.max(maximum[i], v[i]);
    param[i] = p - stepSize * (m[i] / (Math.sqrt(second) / correction2Sqrt + eps));
  }
}
