// Fused kernels at the tensor level: normalization and the SGD/Adam steps, so nn and optim never touch storages.

import { isGradEnabled } from "./autograd.ts";
import type {
  AdamStepOptions,
  AdamStepState,
  Backend,
  CrossEntropyKernelOptions,
  DeviceBuffer,
  SgdStepOptions,
} from "./backend.ts";
import { arange } from "./creation.ts";
import { defineOp } from "./define-op.ts";
import type { NormLayout, NormStatistics } from "./norm-layout.ts";
import { contiguousStrides, type Shape } from "./shape.ts";
import { Storage } from "./storage.ts";
import { Tensor } from "./tensor.ts";

/** Options of `fusedNormalize` (and of nn's `normalize`, which composes the same op where no kernel exists). */
export interface NormalizeOptions {
  /** Added to the variance under the square root. */
  eps: number;
  /** Normalize with these (one per statistic of the layout, e.g. running statistics) instead of x's own. */
  statistics: NormStatistics<Tensor> | null;
}

/** The output and, when they were computed from x, the statistics (mean, biased variance). */
export interface NormalizeResult {
  output: Tensor;
  /** Shape [number of statistics]; float64 on the CPU. Null when the statistics were given. */
  statistics: NormStatistics<Tensor> | null;
}

/** Wraps a buffer a kernel just returned as a contiguous tensor. */
function wrap(backend: Backend, buffer: DeviceBuffer, shape: Shape): Tensor {
  return new Tensor(new Storage(backend, buffer), shape, contiguousStrides(shape), 0);
}

/** True when x's backend has the fused normalization kernels (`normForward` and `normBackward`). */
export function canFuseNormalize(x: Tensor): boolean {
  return x.backend.normForward !== undefined && x.backend.normBackward !== undefined;
}

/**
 * The normalization backward in recorded tensor ops, for backward with `createGraph` (fused and
 * composed normalize alike): the statistics are recomputed from x with ops, so the gradients
 * depend on x, the weight and dy through the graph and can be differentiated again. With
 * x̂ = (x − μ)·s, s = 1/√(σ² + eps), ĝ = dy·weight[c], over each statistic's m elements:
 * dx = s·(ĝ − Σĝ/m − x̂·Σ(ĝ·x̂)/m) (statistics from x) or s·ĝ (given statistics, constants);
 * dweight[c] = Σ dy·x̂, dbias[c] = Σ dy. `needs` lists x, then weight and bias where present.
 */
export function recordedNormalizeBackward(
  dy: Tensor,
  x: Tensor,
  layout: NormLayout,
  weight: Tensor | null,
  bias: Tensor | null,
  { eps, statistics }: NormalizeOptions,
  needs: readonly boolean[],
): (Tensor | null)[] {
  const { outer, channels, inner } = layout;
  const perChannel = layout.kind === "per-channel";
  const groups = layout.kind === "per-channel" ? channels : layout.groups;
  const grouped = perChannel ? [outer, channels, inner] : [outer, groups, (channels / groups) * inner];
  const axes = perChannel ? [0, 2] : [2];
  const channelShape = [1, channels, 1];
  const threeD = [outer, channels, inner];
  const xg = x.reshape(grouped);
  const statShape = perChannel ? channelShape : [outer, groups, 1];
  const mean = statistics === null ? xg.mean(axes, true) : statistics.mean.to(x.dtype).reshape(statShape);
  const variance =
    statistics === null
      ? xg.sub(mean).square().mean(axes, true)
      : statistics.variance.to(x.dtype).reshape(statShape);
  const invStd = variance.add(eps).rsqrt();
  const xhat = xg.sub(mean).mul(invStd);
  const dy3 = dy.reshape(threeD);
  const weightNeeded = weight !== null && needs[1];
  const biasNeeded = bias !== null && needs[weight === null ? 1 : 2];
  const dweight = weightNeeded ? dy3.mul(xhat.reshape(threeD)).sum([0, 2]).reshape(weight.shape) : null;
  const dbias = biasNeeded ? dy3.sum([0, 2]).reshape(bias.shape) : null;
  let dx: Tensor | null = null;
  if (needs[0]) {
    const g = (weight === null ? dy3 : dy3.mul(weight.reshape(channelShape))).reshape(grouped);
    const full =
      statistics === null ? g.sub(g.mean(axes, true)).sub(xhat.mul(g.mul(xhat).mean(axes, true))) : g;
    dx = full.mul(invStd).reshape(x.shape);
  }
  return [dx, ...(weight === null ? [] : [dweight]), ...(bias === null ? [] : [dbias])];
}

/**
 * Normalizes x over its layout's statistics and applies the per-channel affine with the
 * backend's fused kernels, as a differentiable op:
 * `y = (x − μ)/√(σ² + eps)·weight[c] + bias[c]` (biased variance; a null weight is 1, a null
 * bias 0). Forward: statistics in one sweep per pass, then normalize + affine in one sweep;
 * backward: one sweep for the sums, one for dx (formulas in docs/normalization.md and next to
 * the CPU kernels). x must be contiguous-viewable as (outer, channels, inner); weight and bias
 * have `channels` elements, x's dtype and device (nn's `normalize` checks them). Throws where
 * `canFuseNormalize(x)` is false.
 */
export function fusedNormalize(
  x: Tensor,
  layout: NormLayout,
  weight: Tensor | null,
  bias: Tensor | null,
  { eps, statistics }: NormalizeOptions,
): NormalizeResult {
  const backend = x.backend;
  const { normForward, normBackward } = backend;
  if (normForward === undefined || normBackward === undefined) {
    throw new Error(`the ${x.device} backend has no fused normalization kernels`);
  }
  let computed: NormStatistics<Tensor> | null = null;
  const inputs = [x, ...(weight === null ? [] : [weight]), ...(bias === null ? [] : [bias])];
  const op = defineOp<Tensor[], NormStatistics<Tensor>>({
    name: "normalize",
    forward: () => {
      const given = statistics && {
        mean: statistics.mean.kernelView,
        variance: statistics.variance.kernelView,
      };
      const result = normForward.call(
        backend,
        x.kernelView,
        layout,
        weight?.kernelView ?? null,
        bias?.kernelView ?? null,
        { eps, statistics: given },
      );
      const output = wrap(backend, result.output, x.shape);
      if (statistics !== null) {
        // Copied: running statistics may change in place before backward runs.
        return { output, saved: { mean: statistics.mean.clone(), variance: statistics.variance.clone() } };
      }
      if (result.statistics === null)
        throw new Error(`the ${x.device} backend's normForward returned no statistics`);
      const shape = [result.statistics.mean.size];
      computed = {
        mean: wrap(backend, result.statistics.mean, shape),
        variance: wrap(backend, result.statistics.variance, shape),
      };
      return { output, saved: computed };
    },
    twiceDifferentiable: true,
    backward: (dy, saved, needsInputGrad) => {
      if (isGradEnabled()) {
        const given = statistics === null ? null : saved;
        return recordedNormalizeBackward(
          dy,
          x,
          layout,
          weight,
          bias,
          { eps, statistics: given },
          needsInputGrad,
        );
      }
      const needs = {
        input: needsInputGrad[0],
        weight: weight !== null && needsInputGrad[1],
        bias: bias !== null && needsInputGrad[weight === null ? 1 : 2],
      };
      const grads = normBackward.call(
        backend,
        dy.kernelView,
        x.kernelView,
        layout,
        weight?.kernelView ?? null,
        { mean: saved.mean.kernelView, variance: saved.variance.kernelView },
        { eps, statisticsFromInput: statistics === null, needs },
      );
      const dx = grads.dx && wrap(backend, grads.dx, x.shape);
      const dweight = grads.dweight && weight && wrap(backend, grads.dweight, weight.shape);
      const dbias = grads.dbias && bias && wrap(backend, grads.dbias, bias.shape);
      return [dx, ...(weight === null ? [] : [dweight]), ...(bias === null ? [] : [dbias])];
    },
  });
  return { output: op(...inputs), statistics: computed };
}

/**
 * True when a fused step may update `param` and its `state` tensors in place from `grad`: each
 * owns its whole storage and matches the parameter's device, dtype and size (otherwise compose
 * the update from tensor ops, which broadcast, cast and explain what is wrong).
 */
function canStepInPlace(param: Tensor, grad: Tensor, state: readonly (Tensor | null)[]): boolean {
  const matches = (t: Tensor) =>
    t.device === param.device && t.dtype === param.dtype && t.size === param.size;
  return (
    param.ownsStorage() && matches(grad) && state.every((t) => t === null || (t.ownsStorage() && matches(t)))
  );
}

/** Bumps the version of every tensor a fused step wrote, as in-place ops do, so autograd sees the writes. */
function markWritten(tensors: readonly (Tensor | null)[]): void {
  for (const t of tensors) if (t !== null) t.storage.version++;
}

/**
 * True when `fusedSgdStep(param, grad, momentumBuffer, …)` can run: the backend has `sgdStep`,
 * and param and the buffer (null without momentum) own their storages and match param's
 * device, dtype and size, as grad does.
 */
export function canFuseSgdStep(param: Tensor, grad: Tensor, momentumBuffer: Tensor | null): boolean {
  return param.backend.sgdStep !== undefined && canStepInPlace(param, grad, [momentumBuffer]);
}

/**
 * One SGD step in place with the backend's fused kernel, exactly `torch.optim.SGD`'s update
 * (see `SgdStepOptions`): with g = ±∇p + λ·p, `b ← g` on the first step else `μ·b + (1 − τ)·g`,
 * then `p ← p − lr·(g + μ·b if nesterov, else b)` (`p ← p − lr·g` without a buffer). Bumps the
 * written tensors' versions. Throws unless `canFuseSgdStep` holds; run it under `noGrad`.
 */
export function fusedSgdStep(
  param: Tensor,
  grad: Tensor,
  momentumBuffer: Tensor | null,
  options: SgdStepOptions,
): void {
  const { sgdStep } = param.backend;
  if (sgdStep === undefined || !canStepInPlace(param, grad, [momentumBuffer])) {
    throw new Error(
      `fusedSgdStep: no fused SGD step for this ${param.dtype} parameter on ${param.device} ` +
        "(check canFuseSgdStep first)",
    );
  }
  sgdStep.call(
    param.backend,
    param.storage.buffer,
    grad.kernelView,
    momentumBuffer?.storage.buffer ?? null,
    options,
  );
  markWritten([param, momentumBuffer]);
}

/**
 * True when `fusedAdamStep(param, grad, state, …)` can run: the backend has `adamStep`, and
 * param and its moments own their storages and match param's device, dtype and size, as grad does.
 */
export function canFuseAdamStep(param: Tensor, grad: Tensor, state: AdamStepState<Tensor>): boolean {
  return (
    param.backend.adamStep !== undefined &&
    canStepInPlace(param, grad, [state.expAvg, state.expAvgSq, state.maxExpAvgSq])
  );
}

/**
 * One Adam/AdamW step in place with the backend's fused kernel, exactly `torch.optim.Adam`/
 * `AdamW`'s update (see `AdamStepOptions`): `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`,
 * `v̂ ← max(v̂, v)` with AMSGrad, `p ← p − lr/(1 − β₁ᵗ)·m/(√v̂/√(1 − β₂ᵗ) + eps)`. Bumps the
 * written tensors' versions. Throws unless `canFuseAdamStep` holds; run it under `noGrad`.
 */
export function fusedAdamStep(
  param: Tensor,
  grad: Tensor,
  state: AdamStepState<Tensor>,
  options: AdamStepOptions,
): void {
  const { adamStep } = param.backend;
  const { expAvg, expAvgSq, maxExpAvgSq } = state;
  if (adamStep === undefined || !canStepInPlace(param, grad, [expAvg, expAvgSq, maxExpAvgSq])) {
    throw new Error(
      `fusedAdamStep: no fused Adam step for this ${param.dtype} parameter on ${param.device} ` +
        "(check canFuseAdamStep first)",
    );
  }
  const buffers = {
    expAvg: expAvg.storage.buffer,
    expAvgSq: expAvgSq.storage.buffer,
    maxExpAvgSq: maxExpAvgSq?.storage.buffer ?? null,
  };
  adamStep.call(param.backend, param.storage.buffer, grad.kernelView, buffers, options);
  markWritten([param, expAvg, expAvgSq, maxExpAvgSq]);
}

/**
 * True when `fusedRunningStatistics(running, batch, …)` can run: the backend has
 * `updateRunningStatistics`, the running tensors own their storages, and all four tensors share
 * the device and the running mean's size.
 */
export function canFuseRunningStatistics(
  running: NormStatistics<Tensor>,
  batch: NormStatistics<Tensor>,
): boolean {
  return running.mean.backend.updateRunningStatistics !== undefined && updatableInPlace(running, batch);
}

/** The running tensors own their storages, and all four tensors share the device and the running mean's size. */
function updatableInPlace(running: NormStatistics<Tensor>, batch: NormStatistics<Tensor>): boolean {
  const { mean } = running;
  const all = [running.mean, running.variance, batch.mean, batch.variance];
  return (
    running.mean.ownsStorage() &&
    running.variance.ownsStorage() &&
    all.every((t) => t.device === mean.device && t.size === mean.size)
  );
}

/**
 * True when `deviceRunningStatistics(running, batch, …)` can run: the backend has
 * `updateRunningStatisticsOnDevice` and the tensors qualify as for `canFuseRunningStatistics`.
 */
export function canUpdateRunningStatisticsOnDevice(
  running: NormStatistics<Tensor>,
  batch: NormStatistics<Tensor>,
): boolean {
  return (
    running.mean.backend.updateRunningStatisticsOnDevice !== undefined && updatableInPlace(running, batch)
  );
}

/**
 * Updates running statistics in place on the device (see `Backend.updateRunningStatisticsOnDevice`):
 * `running = (1 − momentum)·running + momentum·batch`, the batch variance scaled by
 * `varianceScale` first, written only when every value is finite. Reads nothing: returns a
 * one-element flag tensor, 1 when the update was refused (for `checkValues`). Throws where
 * `canUpdateRunningStatisticsOnDevice` is false.
 */
export function deviceRunningStatistics(
  running: NormStatistics<Tensor>,
  batch: NormStatistics<Tensor>,
  options: { readonly momentum: number; readonly varianceScale: number },
): Tensor {
  const { backend } = running.mean;
  const { updateRunningStatisticsOnDevice } = backend;
  if (updateRunningStatisticsOnDevice === undefined || !canUpdateRunningStatisticsOnDevice(running, batch)) {
    throw new Error(
      `deviceRunningStatistics: no device-side update for these ${running.mean.dtype} statistics on ` +
        `${running.mean.device} (check canUpdateRunningStatisticsOnDevice first)`,
    );
  }
  const refused = updateRunningStatisticsOnDevice.call(
    backend,
    { mean: running.mean.storage.buffer, variance: running.variance.storage.buffer },
    { mean: batch.mean.kernelView, variance: batch.variance.kernelView },
    options,
  );
  // Written or not is known on the device only; bumping the versions either way is safe.
  markWritten([running.mean, running.variance]);
  return wrap(backend, refused, []);
}

/**
 * Updates running statistics in place with the backend's fused kernel (see
 * `Backend.updateRunningStatistics`): `running = (1 − momentum)·running + momentum·batch`, the
 * batch variance scaled by `varianceScale` first; nothing is written unless every value is
 * finite. Returns the next values (float64) and whether they were written. Throws where
 * `canFuseRunningStatistics` is false.
 */
export function fusedRunningStatistics(
  running: NormStatistics<Tensor>,
  batch: NormStatistics<Tensor>,
  options: { readonly momentum: number; readonly varianceScale: number },
): { next: NormStatistics<Float64Array>; written: boolean } {
  const { updateRunningStatistics } = running.mean.backend;
  if (updateRunningStatistics === undefined || !canFuseRunningStatistics(running, batch)) {
    throw new Error(
      `fusedRunningStatistics: no fused update for these ${running.mean.dtype} statistics on ${running.mean.device} ` +
        "(check canFuseRunningStatistics first)",
    );
  }
  const result = updateRunningStatistics.call(
    running.mean.backend,
    { mean: running.mean.storage.buffer, variance: running.variance.storage.buffer },
    { mean: batch.mean.kernelView, variance: batch.variance.kernelView },
    options,
  );
  if (result.written) markWritten([running.mean, running.variance]);
  return result;
}

/**
 * True when `fusedCrossEntropy(x, target, …)` can run: the backend has the fused cross-entropy
 * kernels, x is float (N, C) and target int32 (N) on the same device.
 */
export function canFuseCrossEntropy(x: Tensor, target: Tensor): boolean {
  const { crossEntropyForward, crossEntropyBackward } = x.backend;
  return (
    crossEntropyForward !== undefined &&
    crossEntropyBackward !== undefined &&
    x.ndim === 2 &&
    (x.dtype === "float32" || x.dtype === "float64") &&
    target.ndim === 1 &&
    target.dtype === "int32" &&
    target.device === x.device &&
    target.shape[0] === x.shape[0]
  );
}

/**
 * Cross-entropy of logits x (N, C) against class indices in one kernel each way (see
 * `Backend.crossEntropyForward`): `Σ_i (log Σ_c exp(x[i, c]) − x[i, t_i])` over the rows whose
 * target is not `ignoreIndex`, divided by their count for "mean". Returns the loss and a
 * one-element flag, 1 when a counted target lies outside [0, C) (for `checkValues`). The
 * backward is differentiable again: under `createGraph` it is composed from recorded ops.
 * Throws where `canFuseCrossEntropy` is false.
 */
export function fusedCrossEntropy(
  x: Tensor,
  target: Tensor,
  options: CrossEntropyKernelOptions,
): { loss: Tensor; outOfRange: Tensor } {
  const { backend } = x;
  const { crossEntropyForward, crossEntropyBackward } = backend;
  if (
    crossEntropyForward === undefined ||
    crossEntropyBackward === undefined ||
    !canFuseCrossEntropy(x, target)
  ) {
    throw new Error(
      `fusedCrossEntropy: no fused kernels for ${x.dtype} logits of shape [${x.shape.join(", ")}] on ${x.device} ` +
        "(check canFuseCrossEntropy first)",
    );
  }
  const [rowCount, classes] = x.shape;
  let outOfRange: Tensor | null = null;
  const op = defineOp<[Tensor, Tensor], Tensor>({
    name: "crossEntropy",
    forward: () => {
      const { loss, rows } = crossEntropyForward.call(backend, x.kernelView, target.kernelView, options);
      const saved = wrap(backend, rows, [rowCount + 2]);
      outOfRange = new Tensor(saved.storage, [], [], rowCount + 1);
      return { output: wrap(backend, loss, []), saved };
    },
    twiceDifferentiable: true,
    backward: (dy, rows, needs) => {
      if (!needs[0]) return [null, null];
      if (isGradEnabled()) {
        // (softmax(x) − onehot(t))·dy/count, in recorded ops so it can be differentiated again.
        const counted = target.ne(options.ignoreIndex).unsqueeze(1);
        const onehot = target
          .unsqueeze(1)
          .eq(arange(classes, undefined, 1, { dtype: "int32", device: x.device }));
        const scale = options.reduction === "mean" ? dy.div(counted.sum()) : dy;
        return [x.softmax(1).sub(onehot.to(x.dtype)).mul(counted.to(x.dtype)).mul(scale), null];
      }
      const dx = crossEntropyBackward.call(
        backend,
        dy.kernelView,
        x.kernelView,
        target.kernelView,
        rows.kernelView,
        options,
      );
      return [wrap(backend, dx, x.shape), null];
    },
  });
  const loss = op(x, target);
  if (outOfRange === null) throw new Error("fusedCrossEntropy: the forward did not run");
  return { loss, outOfRange };
}
