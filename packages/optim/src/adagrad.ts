// Adagrad with learning-rate decay, weight decay, an initial accumulator and maximize (PyTorch's update rule).
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

/** Adagrad's options (PyTorch's names in camelCase). */
export interface AdagradOptions extends BaseOptions {
  /** Learning-rate decay δ: step t uses lr/(1 + (t − 1)·δ) (default 0). */
  lrDecay: number;
  /** L2 penalty λ added to the gradient (default 0). */
  weightDecay: number;
  /** Starting value of the sum of squared gradients (default 0). */
  initialAccumulatorValue: number;
  /** Added to the denominator for numerical stability (default 1e-10). */
  eps: number;
  /** Ascend the objective instead of descending (default false). */
  maximize: boolean;
}

/** Adagrad's per-parameter state, in state dicts under PyTorch's names `step` and `sum`. */
export type AdagradState = { step: number; sum: Tensor };

/**
 * Adagrad (Duchi et al.), exactly as `torch.optim.Adagrad`. Per step t, with g = ∇p (or −∇p
 * when maximizing):
 *
 *     g ← g + λ·p
 *     s ← s + g²
 *     p ← p − lr/(1 + (t − 1)·δ) · g/(√s + ε)
 *
 * Defaults: lr 1e-2, lrDecay 0, weightDecay 0, initialAccumulatorValue 0, eps 1e-10. As in
 * PyTorch, every parameter's state (step 0, s filled with initialAccumulatorValue) exists from
 * construction. There is no fused kernel: the update always composes tensor ops.
 */
export class Adagrad extends Optimizer<AdagradOptions, AdagradState> {
  constructor(params: OptimizerParams<AdagradOptions>, options: Partial<AdagradOptions> = {}) {
    super("Adagrad", params, {
      lr: 1e-2,
      lrDecay: 0,
      weightDecay: 0,
      initialAccumulatorValue: 0,
      eps: 1e-10,
      maximize: false,
      fused: true,
      ...definedOptions(options),
    });
    for (const group of this.paramGroups) {
      for (const param of group.params) this.stateOf(param, () => this.#initialState(param, group));
    }
  }

  #initialState(param: Tensor, group: ParamGroup<AdagradOptions>): AdagradState {
    return { step: 0, sum: keep(param.fullLike(group.initialAccumulatorValue)) };
  }

  protected validate(options: AdagradOptions, where: string): void {
    assertNonNegative(where, "lr", options.lr);
    assertNonNegative(where, "lrDecay", options.lrDecay);
    assertNonNegative(where, "weightDecay", options.weightDecay);
    assertNonNegative(where, "initialAccumulatorValue", options.initialAccumulatorValue);
    assertNonNegative(where, "eps", options.eps);
  }

  protected saveState(state: AdagradState, copy: (tensor: Tensor) => Tensor): SavedState<AdagradState> {
    return { step: state.step, sum: copy(state.sum) };
  }

  protected loadState(saved: SavedState<AdagradState>, copy: (tensor: Tensor) => Tensor): AdagradState {
    return { step: saved.step, sum: copy(saved.sum) };
  }

  protected update(param: Tensor, grad: Tensor, group: ParamGroup<AdagradOptions>): void {
    const { lr, lrDecay, weightDecay, eps, maximize } = group;
    // Parameters of groups added after construction get their state on their first step.
    const state = this.stateOf(param, () => this.#initialState(param, group));
    state.step += 1;
    let g = maximize ? grad.neg() : grad;
    if (weightDecay !== 0) g = g.add(param.mul(weightDecay));
    const clr = lr / (1 + (state.step - 1) * lrDecay);
    state.sum.add_(g.mul(g));
    param.sub_(g.div(state.sum.sqrt().add(eps)), clr);
  }
}
