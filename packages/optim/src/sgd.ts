// SGD with momentum, dampening, Nesterov momentum, weight decay and maximize (PyTorch's update rule).
import { canFuseSgdStep, formatValue, fusedSgdStep, keep, type Tensor } from "@normgrad/core";
import {
  assertNonNegative,
  type BaseOptions,
  definedOptions,
  Optimizer,
  type OptimizerParams,
  type ParamGroup,
  type SavedState,
} from "./optimizer.ts";

/** SGD's options (PyTorch's names in camelCase). */
export interface SGDOptions extends BaseOptions {
  /** Momentum factor μ (default 0: plain SGD). */
  momentum: number;
  /** Dampening τ of the momentum's new-gradient term (default 0). */
  dampening: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** L2 penalty λ added to the gradient (default 0). */
  weightDecay: number;
  /** Ascend the objective instead of descending (default false). */
  maximize: boolean;
}

/** SGD's per-parameter state: the momentum buffer (absent without momentum; `momentum_buffer` in state dicts). */
export type SGDState = { momentumBuffer: Tensor };

/**
 * Stochastic gradient descent, exactly as `torch.optim.SGD`. Per step, with g = ∇p (or −∇p
 * when maximizing):
 *
 *     g ← g + λ·p
 *     b ← g on the first step, else μ·b + (1 − τ)·g      (only when μ ≠ 0)
 *     g ← g + μ·b if nesterov, else b
 *     p ← p − lr·g
 *
 * `lr` is required; the defaults are momentum 0, dampening 0, nesterov false, weightDecay 0.
 */
export class SGD extends Optimizer<SGDOptions, SGDState> {
  constructor(params: OptimizerParams<SGDOptions>, options: Partial<SGDOptions> & Pick<SGDOptions, "lr">) {
    super("SGD", params, {
      momentum: 0,
      dampening: 0,
      nesterov: false,
      weightDecay: 0,
      maximize: false,
      fused: true,
      ...definedOptions(options),
      lr: options.lr,
    });
  }

  protected validate(options: SGDOptions, where: string): void {
    assertNonNegative(where, "lr", options.lr);
    assertNonNegative(where, "momentum", options.momentum);
    assertNonNegative(where, "weightDecay", options.weightDecay);
    if (typeof options.dampening !== "number" || !Number.isFinite(options.dampening)) {
      throw new RangeError(
        `${where}: dampening must be a finite number, got ${formatValue(options.dampening)}`,
      );
    }
    if (options.nesterov && (options.momentum <= 0 || options.dampening !== 0)) {
      throw new RangeError(
        `${where}: Nesterov momentum needs momentum > 0 and dampening 0, got momentum ${options.momentum} ` +
          `and dampening ${options.dampening}`,
      );
    }
  }

  protected saveState(state: SGDState, copy: (tensor: Tensor) => Tensor): SavedState<SGDState> {
    return { momentum_buffer: copy(state.momentumBuffer) };
  }

  protected loadState(saved: SavedState<SGDState>, copy: (tensor: Tensor) => Tensor): SGDState {
    return { momentumBuffer: copy(saved.momentum_buffer) };
  }

  protected update(param: Tensor, grad: Tensor, group: ParamGroup<SGDOptions>): void {
    const { lr, momentum, dampening, nesterov, weightDecay, maximize } = group;
    const firstStep = momentum !== 0 && !this.state.has(param);
    // The first momentum buffer is the gradient itself (no dampening), so it starts as a copy of it.
    const momentumBuffer =
      momentum === 0
        ? null
        : this.stateOf(param, () => ({ momentumBuffer: keep(param.zerosLike()) })).momentumBuffer;
    if (group.fused && canFuseSgdStep(param, grad, momentumBuffer)) {
      fusedSgdStep(param, grad, momentumBuffer, {
        lr,
        momentum,
        dampening,
        nesterov,
        weightDecay,
        maximize,
        firstStep,
      });
      return;
    }
    let d = maximize ? grad.neg() : grad;
    if (weightDecay !== 0) d = d.add(param.mul(weightDecay));
    if (momentumBuffer !== null) {
      if (firstStep) momentumBuffer.copy_(d);
      else momentumBuffer.mul_(momentum).add_(d, 1 - dampening);
      d = nesterov ? d.add(momentumBuffer.mul(momentum)) : momentumBuffer;
    }
    param.sub_(d, lr);
  }
}
