// Adam and AdamW (L2 vs decoupled weight decay), with AMSGrad: PyTorch's update rules.
import { canFuseAdamStep, formatValue, fusedAdamStep, keep, type Tensor } from "@normgrad/core";
import {
  assertNonNegative,
  type BaseOptions,
  definedOptions,
  Optimizer,
  type OptimizerParams,
  type ParamGroup,
  type SavedState,
} from "./optimizer.ts";

/** Adam's and AdamW's options (PyTorch's names in camelCase). */
export interface AdamOptions extends BaseOptions {
  /** Decay rates (β₁, β₂) of the first and second moment averages, each in [0, 1) (default [0.9, 0.999]). */
  betas: readonly [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** Weight decay λ: an L2 term in Adam (default 0), decoupled in AdamW (default 1e-2). */
  weightDecay: number;
  /** Use the running maximum of the second moment (AMSGrad; default false). */
  amsgrad: boolean;
  /** Ascend the objective instead of descending (default false). */
  maximize: boolean;
}

/**
 * Per-parameter state: step count, the two moments, AMSGrad's maximum (null without it). State
 * dicts hold it under PyTorch's names: `step`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`.
 */
export type AdamState = {
  step: number;
  expAvg: Tensor;
  expAvgSq: Tensor;
  maxExpAvgSq: Tensor | null;
};

/** Adam's options as a constructor takes them: every one optional. */
export type AdamInit = Partial<AdamOptions>;

function defaultsOf(options: AdamInit, weightDecay: number): AdamOptions {
  return {
    lr: 1e-3,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay,
    amsgrad: false,
    maximize: false,
    fused: true,
    ...definedOptions(options),
  };
}

/** The shared update; `decoupled` selects AdamW's weight decay. */
abstract class AdamBase extends Optimizer<AdamOptions, AdamState> {
  protected abstract readonly decoupled: boolean;

  protected validate(options: AdamOptions, where: string): void {
    assertNonNegative(where, "lr", options.lr);
    assertNonNegative(where, "eps", options.eps);
    assertNonNegative(where, "weightDecay", options.weightDecay);
    const { betas } = options;
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new TypeError(
        `${where}: betas must be a pair [beta1, beta2] such as [0.9, 0.999], got ${formatValue(betas)}`,
      );
    }
    betas.forEach((beta, i) => {
      if (typeof beta !== "number" || !(beta >= 0 && beta < 1))
        throw new RangeError(`${where}: betas[${i}] must be in [0, 1), got ${formatValue(beta)}`);
    });
  }

  protected saveState(state: AdamState, copy: (tensor: Tensor) => Tensor): SavedState<AdamState> {
    return {
      step: state.step,
      exp_avg: copy(state.expAvg),
      exp_avg_sq: copy(state.expAvgSq),
      max_exp_avg_sq: state.maxExpAvgSq === null ? null : copy(state.maxExpAvgSq),
    };
  }

  protected loadState(saved: SavedState<AdamState>, copy: (tensor: Tensor) => Tensor): AdamState {
    return {
      step: saved.step,
      expAvg: copy(saved.exp_avg),
      expAvgSq: copy(saved.exp_avg_sq),
      maxExpAvgSq: saved.max_exp_avg_sq === null ? null : copy(saved.max_exp_avg_sq),
    };
  }

  protected update(param: Tensor, grad: Tensor, group: ParamGroup<AdamOptions>): void {
    const { lr, betas, eps, weightDecay, amsgrad, maximize } = group;
    const [beta1, beta2] = betas;
    const state = this.stateOf(param, () => ({
      step: 0,
      expAvg: keep(param.zerosLike()),
      expAvgSq: keep(param.zerosLike()),
      maxExpAvgSq: amsgrad ? keep(param.zerosLike()) : null,
    }));
    if (amsgrad && state.maxExpAvgSq === null) state.maxExpAvgSq = keep(param.zerosLike());
    state.step += 1;
    const { expAvg, expAvgSq } = state;
    const moments = { expAvg, expAvgSq, maxExpAvgSq: amsgrad ? state.maxExpAvgSq : null };
    if (group.fused && canFuseAdamStep(param, grad, moments)) {
      fusedAdamStep(param, grad, moments, {
        lr,
        beta1,
        beta2,
        eps,
        weightDecay,
        decoupledWeightDecay: this.decoupled,
        amsgrad,
        maximize,
        step: state.step,
      });
      return;
    }
    const stepSize = lr / (1 - beta1 ** state.step);
    const correction2Sqrt = Math.sqrt(1 - beta2 ** state.step);
    const decay = this.decoupled ? 1 - lr * weightDecay : 1;
    const l2 = this.decoupled ? 0 : weightDecay;
    let d = maximize ? grad.neg() : grad;
    if (decay !== 1) param.mul_(decay);
    if (l2 !== 0) d = d.add(param.mul(l2));
    expAvg.mul_(beta1).add_(d, 1 - beta1);
    expAvgSq.mul_(beta2).add_(d.mul(d), 1 - beta2);
    let second = expAvgSq;
    if (moments.maxExpAvgSq !== null)
      second = moments.maxExpAvgSq.copy_(moments.maxExpAvgSq.maximum(expAvgSq));
    const denominator = second.sqrt().div(correction2Sqrt).add(eps);
    param.sub_(expAvg.div(denominator), stepSize);
  }
}

/**
 * Adam (Kingma & Ba), exactly as `torch.optim.Adam`. Per step t, with g = ∇p (or −∇p when
 * maximizing):
 *
 *     g ← g + λ·p                                   (L2 weight decay)
 *     m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
 *     v̂ ← max(v̂, v) with amsgrad, else v
 *     p ← p − lr/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
 *
 * Defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0, amsgrad false.
 */
export class Adam extends AdamBase {
  protected readonly decoupled = false;

  constructor(params: OptimizerParams<AdamOptions>, options: AdamInit = {}) {
    super("Adam", params, defaultsOf(options, 0));
  }
}

/**
 * AdamW (Loshchilov & Hutter), exactly as `torch.optim.AdamW`: Adam whose weight decay is
 * decoupled from the gradient: `p ← p·(1 − lr·λ)` first, then the Adam update without the L2
 * term. Defaults as Adam except weightDecay 1e-2.
 */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;

  constructor(params: OptimizerParams<AdamOptions>, options: AdamInit = {}) {
    super("AdamW", params, defaultsOf(options, 1e-2));
  }
}
