// RMSprop with momentum, the centered variant, weight decay and maximize (PyTorch's update rule).
import { keep, type Tensor } from "@normgrad/core";
import {
  assertNonNegative,
  type BaseOptions,
  definedOptions,
  Optimizer,
  type OptimizerParams,
  type ParamGroup,
  type SavedState,
} from "./optimizer.ts";

/** RMSprop's options (PyTorch's names in camelCase). */
export interface RMSpropOptions extends BaseOptions {
  /** Smoothing constant α of the squared-gradient average (default 0.99). */
  alpha: number;
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** L2 penalty λ added to the gradient (default 0). */
  weightDecay: number;
  /** Momentum factor μ (default 0: no momentum buffer). */
  momentum: number;
  /** Divide by the gradient's estimated variance instead of its second moment (default false). */
  centered: boolean;
  /** Ascend the objective instead of descending (default false). */
  maximize: boolean;
}

/**
 * RMSprop's per-parameter state, in state dicts under PyTorch's names `step`, `square_avg`,
 * `momentum_buffer` (only with momentum > 0) and `grad_avg` (only when centered).
 */
export type RMSpropState = {
  step: number;
  squareAvg: Tensor;
  momentumBuffer: Tensor | null;
  gradAvg: Tensor | null;
};

/**
 * RMSprop (Hinton), exactly as `torch.optim.RMSprop`. Per step, with g = ∇p (or −∇p when
 * maximizing):
 *
 *     g ← g + λ·p
 *     v ← α·v + (1 − α)·g²
 *     ḡ ← α·ḡ + (1 − α)·g,  d ← √(v − ḡ²) + ε    (centered)
 *     d ← √v + ε                                 (otherwise)
 *     b ← μ·b + g/d,  p ← p − lr·b               (μ > 0)
 *     p ← p − lr·g/d                             (μ = 0)
 *
 * Defaults: lr 1e-2, alpha 0.99, eps 1e-8, weightDecay 0, momentum 0, centered false. There is no
 * fused kernel: `fused` is accepted and the update always composes tensor ops.
 */
export class RMSprop extends Optimizer<RMSpropOptions, RMSpropState> {
  constructor(params: OptimizerParams<RMSpropOptions>, options: Partial<RMSpropOptions> = {}) {
    super("RMSprop", params, {
      lr: 1e-2,
      alpha: 0.99,
      eps: 1e-8,
      weightDecay: 0,
      momentum: 0,
      centered: false,
      maximize: false,
      fused: true,
      ...definedOptions(options),
    });
  }

  protected validate(options: RMSpropOptions, where: string): void {
    assertNonNegative(where, "lr", options.lr);
    assertNonNegative(where, "alpha", options.alpha);
    assertNonNegative(where, "eps", options.eps);
    assertNonNegative(where, "weightDecay", options.weightDecay);
    assertNonNegative(where, "momentum", options.momentum);
  }

  protected saveState(state: RMSpropState, copy: (tensor: Tensor) => Tensor): SavedState<RMSpropState> {
    return {
      step: state.step,
      square_avg: copy(state.squareAvg),
      momentum_buffer: state.momentumBuffer === null ? null : copy(state.momentumBuffer),
      grad_avg: state.gradAvg === null ? null : copy(state.gradAvg),
    };
  }

  protected loadState(saved: SavedState<RMSpropState>, copy: (tensor: Tensor) => Tensor): RMSpropState {
    return {
      step: saved.step,
      squareAvg: copy(saved.square_avg),
      momentumBuffer: saved.momentum_buffer === null ? null : copy(saved.momentum_buffer),
      gradAvg: saved.grad_avg === null ? null : copy(saved.grad_avg),
    };
  }

  protected update(param: Tensor, grad: Tensor, group: ParamGroup<RMSpropOptions>): void {
    const { lr, alpha, eps, weightDecay, momentum, centered, maximize } = group;
    const state = this.stateOf(param, () => ({
      step: 0,
      squareAvg: keep(param.zerosLike()),
      momentumBuffer: null,
      gradAvg: null,
    }));
    // A group's momentum or centered may be switched on after the first step (as in PyTorch, from zeros).
    if (momentum > 0 && state.momentumBuffer === null) state.momentumBuffer = keep(param.zerosLike());
    if (centered && state.gradAvg === null) state.gradAvg = keep(param.zerosLike());
    state.step += 1;
    let g = maximize ? grad.neg() : grad;
    if (weightDecay !== 0) g = g.add(param.mul(weightDecay));
    const squareAvg = state.squareAvg.mul_(alpha).add_(g.mul(g), 1 - alpha);
    let variance = squareAvg;
    if (centered && state.gradAvg !== null) {
      const gradAvg = state.gradAvg.mul_(alpha).add_(g, 1 - alpha);
      variance = squareAvg.sub(gradAvg.mul(gradAvg));
    }
    const denominator = variance.sqrt().add(eps);
    if (momentum > 0 && state.momentumBuffer !== null) {
      param.sub_(state.momentumBuffer.mul_(momentum).add_(g.div(denominator)), lr);
    } else param.sub_(g.div(denominator), lr);
  }
}
