// Adadelta with weight decay and maximize (PyTorch's update rule).
import { formatValue, keep, type Tensor } from "@normgrad/core";
import {
  assertNonNegative,
  type BaseOptions,
  definedOptions,
  Optimizer,
  type OptimizerParams,
  type ParamGroup,
  type SavedState,
} from "./optimizer.ts";

/** Adadelta's options (PyTorch's names in camelCase). */
export interface AdadeltaOptions extends BaseOptions {
  /** Decay ρ of the running averages of squared gradients and squared updates, in [0, 1] (default 0.9). */
  rho: number;
  /** Added inside both square roots for numerical stability (default 1e-6). */
  eps: number;
  /** L2 penalty λ added to the gradient (default 0). */
  weightDecay: number;
  /** Ascend the objective instead of descending (default false). */
  maximize: boolean;
}

/** Adadelta's per-parameter state, in state dicts under PyTorch's names `step`, `square_avg` and `acc_delta`. */
export type AdadeltaState = { step: number; squareAvg: Tensor; accDelta: Tensor };

/**
 * Adadelta (Zeiler), exactly as `torch.optim.Adadelta`. Per step, with g = ∇p (or −∇p when
 * maximizing):
 *
 *     g ← g + λ·p
 *     v ← ρ·v + (1 − ρ)·g²
 *     Δ ← √(u + ε)/√(v + ε) · g
 *     u ← ρ·u + (1 − ρ)·Δ²
 *     p ← p − lr·Δ
 *
 * Defaults: lr 1.0, rho 0.9, eps 1e-6, weightDecay 0. There is no fused kernel: the update
 * always composes tensor ops.
 */
export class Adadelta extends Optimizer<AdadeltaOptions, AdadeltaState> {
  constructor(params: OptimizerParams<AdadeltaOptions>, options: Partial<AdadeltaOptions> = {}) {
    super("Adadelta", params, {
      lr: 1.0,
      rho: 0.9,
      eps: 1e-6,
      weightDecay: 0,
      maximize: false,
      fused: true,
      ...definedOptions(options),
    });
  }

  protected validate(options: AdadeltaOptions, where: string): void {
    assertNonNegative(where, "lr", options.lr);
    if (typeof options.rho !== "number" || !(options.rho >= 0 && options.rho <= 1)) {
      throw new RangeError(`${where}: rho must be in [0, 1], got ${formatValue(options.rho)}`);
    }
    assertNonNegative(where, "eps", options.eps);
    assertNonNegative(where, "weightDecay", options.weightDecay);
  }

  protected saveState(state: AdadeltaState, copy: (tensor: Tensor) => Tensor): SavedState<AdadeltaState> {
    return { step: state.step, square_avg: copy(state.squareAvg), acc_delta: copy(state.accDelta) };
  }

  protected loadState(saved: SavedState<AdadeltaState>, copy: (tensor: Tensor) => Tensor): AdadeltaState {
    return { step: saved.step, squareAvg: copy(saved.square_avg), accDelta: copy(saved.acc_delta) };
  }

  protected update(param: Tensor, grad: Tensor, group: ParamGroup<AdadeltaOptions>): void {
    const { lr, rho, eps, weightDecay, maximize } = group;
    const state = this.stateOf(param, () => ({
      step: 0,
      squareAvg: keep(param.zerosLike()),
      accDelta: keep(param.zerosLike()),
    }));
    state.step += 1;
    let g = maximize ? grad.neg() : grad;
    if (weightDecay !== 0) g = g.add(param.mul(weightDecay));
    const squareAvg = state.squareAvg.mul_(rho).add_(g.mul(g), 1 - rho);
    const delta = state.accDelta.add(eps).sqrt().div(squareAvg.add(eps).sqrt()).mul(g);
    state.accDelta.mul_(rho).add_(delta.mul(delta), 1 - rho);
    param.sub_(delta, lr);
  }
}
