// Functional losses: crossEntropy, nllLoss, mseLoss, l1Loss, smoothL1Loss, huberLoss, klDiv, binaryCrossEntropy(WithLogits).
import {
  canFuseCrossEntropy,
  checkValues,
  defineOp,
  formatShape,
  formatValue,
  fusedCrossEntropy,
  noGrad,
  type Tensor,
  where,
} from "@normgrad/core";
import { assertFloat, assertIgnoreIndex, assertReduction, type Reduction } from "./validate.ts";

/** Options of `nllLoss`. */
export interface NllLossOptions {
  /** Per-class weights (shape [C]); default none (all 1). */
  weight?: Tensor | null;
  /** Targets equal to this (an integer) contribute no loss and no gradient; default −100. */
  ignoreIndex?: number;
  /** Default `"mean"`: the weighted mean over non-ignored targets. */
  reduction?: Reduction;
}

/** Options of `crossEntropy`. */
export interface CrossEntropyOptions extends NllLossOptions {
  /** Mixes the one-hot target with the uniform distribution: ε/C on every class; default 0. */
  labelSmoothing?: number;
}

function reduce(loss: Tensor, reduction: Reduction): Tensor {
  switch (reduction) {
    case "none":
      return loss;
    case "sum":
      return loss.sum();
    case "mean":
      return loss.mean();
    default:
      return reduction satisfies never;
  }
}

/** Moves the class dim (1) of (N, C, d1, …) to the end and flattens to rows: (N·d1·…, C); (C) becomes (1, C). */
function classRows(input: Tensor): Tensor {
  if (input.ndim === 1) return input.unsqueeze(0);
  if (input.ndim === 2) return input;
  const order = [0, ...input.shape.map((_, axis) => axis).slice(2), 1];
  return input.permute(...order).reshape([-1, input.shape[1]]);
}

/** The shape class-index targets must have for `input`: (N, d1, …), or a scalar for (C). */
function targetShapeFor(input: Tensor): number[] {
  return input.ndim === 1 ? [] : [input.shape[0], ...input.shape.slice(2)];
}

/**
 * Checks the targets' dtype and shape at once, and (see `checkValues`) that every target but
 * ignoreIndex names a class; `outOfRange` computes the device-side flag where a kernel already has it.
 */
function assertClassTargets(
  op: string,
  input: Tensor,
  target: Tensor,
  ignoreIndex: number,
  outOfRange: (() => Tensor) | null = null,
): void {
  if (target.dtype !== "int32") {
    throw new TypeError(
      `${op}: class-index targets must be int32, got ${target.dtype} ${formatShape(target.shape)}`,
    );
  }
  const expected = targetShapeFor(input);
  if (target.ndim !== expected.length || target.shape.some((dim, axis) => dim !== expected[axis])) {
    throw new RangeError(
      `${op}: target ${formatShape(target.shape)} does not match input ${formatShape(input.shape)}: ` +
        `expected class indices of shape ${formatShape(expected)}`,
    );
  }
  const classes = input.ndim === 1 ? input.shape[0] : input.shape[1];
  if (target.size === 0) return;
  checkValues(
    [target],
    ([values]) => {
      // The smallest and largest target that is not ignoreIndex.
      let [low, high] = [0, 0];
      for (const value of values) {
        if (value !== ignoreIndex) [low, high] = [Math.min(low, value), Math.max(high, value)];
      }
      const outside = low < 0 ? low : high >= classes ? high : null;
      return outside === null
        ? null
        : new RangeError(
            `${op}: target ${outside} is out of bounds: class indices must be in [0, ${classes - 1}]` +
              (ignoreIndex < 0 || ignoreIndex >= classes ? ` or equal ignoreIndex ${ignoreIndex}` : ""),
          );
    },
    outOfRange ??
      (() => {
        // (t − (C − 1))·t is positive exactly for an integer t outside [0, C); ignored targets count as 0.
        const counted = where(target.eq(ignoreIndex), 0, target);
        return counted
          .sub(classes - 1)
          .mul(counted)
          .max();
      }),
  );
}

function assertClassWeight(op: string, weight: Tensor | null, input: Tensor): void {
  if (weight === null) return;
  const classes = input.ndim === 1 ? input.shape[0] : input.shape[1];
  if (weight.ndim !== 1 || weight.shape[0] !== classes) {
    throw new RangeError(
      `${op}: weight ${formatShape(weight.shape)} must have one entry per class, [${classes}]`,
    );
  }
}

/**
 * The weighted negative log-likelihood of class-index targets, given log-probabilities
 * `logProbs` (N, C, …) and the smoothing term; shared by nllLoss and crossEntropy.
 * Per row: `(1 − ε)·w[t]·(−logp[t]) + (ε/C)·Σ_c w[c]·(−logp[c])`; mean divides by Σ w[t] over
 * non-ignored rows.
 */
function classIndexLoss(
  logProbs: Tensor,
  target: Tensor,
  weight: Tensor | null,
  ignoreIndex: number,
  reduction: Reduction,
  labelSmoothing: number,
): Tensor {
  const rows = classRows(logProbs);
  const classes = rows.shape[1];
  const flatTarget = target.reshape([-1]);
  const kept = flatTarget.ne(ignoreIndex);
  const safeTarget = where(kept, flatTarget, 0);
  const keptWeight =
    weight === null ? kept.to(rows.dtype) : weight.to(rows.dtype).gather(0, safeTarget).mul(kept);
  const picked = rows.gather(1, safeTarget.unsqueeze(1)).squeeze(1);
  let loss = picked.neg().mul(keptWeight);
  if (labelSmoothing > 0) {
    const weighted = weight === null ? rows : rows.mul(weight.to(rows.dtype));
    const smooth = weighted.sum(1).neg().mul(kept);
    loss = loss.mul(1 - labelSmoothing).add(smooth.mul(labelSmoothing / classes));
  }
  switch (reduction) {
    case "none":
      return loss.reshape(target.shape);
    case "sum":
      return loss.sum();
    case "mean":
      return loss.sum().div(keptWeight.sum());
    default:
      return reduction satisfies never;
  }
}

/**
 * Negative log-likelihood of class-index targets (int32) given log-probabilities `input`
 * (N, C), (N, C, d1, …) or (C): `−w[t]·input[t]` per element, reduced (`"mean"` divides by the
 * summed weights of the non-ignored targets).
 */
export function nllLoss(
  input: Tensor,
  target: Tensor,
  { weight = null, ignoreIndex = -100, reduction = "mean" }: NllLossOptions = {},
): Tensor {
  assertFloat(input, "nllLoss input");
  assertReduction(reduction, "nllLoss");
  assertIgnoreIndex(ignoreIndex, "nllLoss");
  assertClassWeight("nllLoss", weight, input);
  assertClassTargets("nllLoss", input, target, ignoreIndex);
  return classIndexLoss(input, target, weight, ignoreIndex, reduction, 0);
}

/**
 * Cross entropy of logits `input` (N, C), (N, C, d1, …) or (C) against int32 class indices, or
 * against class probabilities of input's shape (float): `−Σ_c q[c]·w[c]·log softmax(input)[c]`
 * with q the (label-smoothed) target distribution, q = (1 − ε)·onehot(t) + ε/C. `"mean"` divides
 * by Σ w[t] over non-ignored targets for class indices, by the number of rows (N·d1·…) for probabilities.
 */
export function crossEntropy(
  input: Tensor,
  target: Tensor,
  { weight = null, ignoreIndex = -100, reduction = "mean", labelSmoothing = 0 }: CrossEntropyOptions = {},
): Tensor {
  assertFloat(input, "crossEntropy input");
  assertReduction(reduction, "crossEntropy");
  assertIgnoreIndex(ignoreIndex, "crossEntropy");
  assertClassWeight("crossEntropy", weight, input);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new RangeError(`crossEntropy: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  }
  if (input.ndim === 0) throw new RangeError("crossEntropy: input must have a class dim, got a scalar");
  if (
    weight === null &&
    labelSmoothing === 0 &&
    reduction !== "none" &&
    target.size > 0 &&
    canFuseCrossEntropy(input, target)
  ) {
    // One kernel for the rows' log-sum-exps, one for the loss, one for dx (instead of some thirty ops).
    const { loss, outOfRange } = fusedCrossEntropy(input, target, { ignoreIndex, reduction });
    assertClassTargets("crossEntropy", input, target, ignoreIndex, () => outOfRange);
    return loss;
  }
  const classDim = input.ndim === 1 ? 0 : 1;
  const logProbs = input.logSoftmax(classDim);
  if (target.dtype !== "int32") {
    if (target.ndim !== input.ndim || target.shape.some((dim, axis) => dim !== input.shape[axis])) {
      throw new RangeError(
        `crossEntropy: probability targets ${formatShape(target.shape)} must have the input's shape ` +
          `${formatShape(input.shape)} (or pass int32 class indices)`,
      );
    }
    const classes = input.shape[classDim];
    const smoothed =
      labelSmoothing > 0 ? target.mul(1 - labelSmoothing).add(labelSmoothing / classes) : target;
    const classWeight =
      weight === null
        ? null
        : weight.to(input.dtype).reshape([classes, ...input.shape.slice(2).map(() => 1)]);
    const terms = logProbs.mul(smoothed).mul(classWeight ?? 1);
    const loss = terms.sum(classDim).neg();
    return reduce(loss, reduction);
  }
  assertClassTargets("crossEntropy", input, target, ignoreIndex);
  return classIndexLoss(logProbs, target, weight, ignoreIndex, reduction, labelSmoothing);
}

function assertSameShape(op: string, input: Tensor, target: Tensor): void {
  if (input.ndim !== target.ndim || input.shape.some((dim, axis) => dim !== target.shape[axis])) {
    throw new RangeError(
      `${op}: input ${formatShape(input.shape)} and target ${formatShape(target.shape)} must have the same shape`,
    );
  }
}

/** Mean squared error `(input − target)²`, reduced (default mean). Shapes must match. */
export function mseLoss(
  input: Tensor,
  target: Tensor,
  { reduction = "mean" }: { reduction?: Reduction } = {},
): Tensor {
  assertFloat(input, "mseLoss input");
  assertReduction(reduction, "mseLoss");
  assertSameShape("mseLoss", input, target);
  return reduce(input.sub(target).square(), reduction);
}

/** Options of `binaryCrossEntropyWithLogits`. */
export interface BceWithLogitsOptions {
  /** Rescales each element's loss (broadcast to the input); default none. */
  weight?: Tensor | null;
  /** Weight of the positive term per class (broadcast along the last dim); default none. */
  posWeight?: Tensor | null;
  /** Default `"mean"`. */
  reduction?: Reduction;
}

/**
 * Binary cross entropy on logits x with targets y in [0, 1], computed stably:
 * `ℓ = (1 − y)·x + (1 + (p − 1)·y)·softplus(−x)` with p = posWeight (1 if none), times `weight`,
 * reduced. Its gradient is `(1 + (p − 1)·y)·σ(x) − p·y` (σ(x) − y without posWeight) everywhere,
 * x = 0 included.
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  { weight = null, posWeight = null, reduction = "mean" }: BceWithLogitsOptions = {},
): Tensor {
  assertFloat(input, "binaryCrossEntropyWithLogits input");
  assertReduction(reduction, "binaryCrossEntropyWithLogits");
  assertSameShape("binaryCrossEntropyWithLogits", input, target);
  // softplus(−x) = m + log(e^(−m) + e^(−x−m)) for any m; m = max(−x, 0) keeps exp from
  // overflowing. The value does not depend on m, so m is a detached constant and the gradient is
  // exactly −e^(−x−m)/Σ = −σ(−x), also at x = 0, where the abs/relu form (zero subgradients) lost the −½.
  const shift = input.neg().relu().detach();
  const softplusNegative = shift.neg().exp().add(input.neg().sub(shift).exp()).log().add(shift);
  const logWeight = posWeight === null ? null : posWeight.sub(1).mul(target).add(1);
  let loss = target
    .neg()
    .add(1)
    .mul(input)
    .add(logWeight === null ? softplusNegative : softplusNegative.mul(logWeight));
  if (weight !== null) loss = loss.mul(weight);
  return reduce(loss, reduction);
}

/** `|input − target|`, reduced (default mean). Shapes must match; the gradient at 0 is 0. */
export function l1Loss(
  input: Tensor,
  target: Tensor,
  { reduction = "mean" }: { reduction?: Reduction } = {},
): Tensor {
  assertFloat(input, "l1Loss input");
  assertReduction(reduction, "l1Loss");
  assertSameShape("l1Loss", input, target);
  return reduce(input.sub(target).abs(), reduction);
}

/**
 * Smooth L1: with z = |input − target|, `0.5·z²/β` where z < β, else `z − 0.5·β`, reduced
 * (defaults β 1, mean). β = 0 is z itself, with PyTorch's gradient −1 (not 0) at input = target.
 */
export function smoothL1Loss(
  input: Tensor,
  target: Tensor,
  { reduction = "mean", beta = 1 }: { reduction?: Reduction; beta?: number } = {},
): Tensor {
  assertFloat(input, "smoothL1Loss input");
  assertReduction(reduction, "smoothL1Loss");
  assertSameShape("smoothL1Loss", input, target);
  if (!(beta >= 0)) throw new RangeError(`smoothL1Loss: beta must be non-negative, got ${beta}`);
  const diff = input.sub(target);
  if (beta === 0) return reduce(where(diff.le(0), diff.neg(), diff), reduction);
  const z = diff.abs();
  // d² rather than z², so the gradient at diff = 0 is diff/β = 0 without abs's subgradient.
  return reduce(where(z.lt(beta), diff.square().mul(0.5).div(beta), z.sub(0.5 * beta)), reduction);
}

/**
 * Huber loss: with z = |input − target|, `0.5·z²` where z < δ, else `δ·(z − 0.5·δ)`, reduced
 * (defaults δ 1, mean); δ must be positive. Equal to δ·smoothL1Loss with β = δ.
 */
export function huberLoss(
  input: Tensor,
  target: Tensor,
  { reduction = "mean", delta = 1 }: { reduction?: Reduction; delta?: number } = {},
): Tensor {
  assertFloat(input, "huberLoss input");
  assertReduction(reduction, "huberLoss");
  assertSameShape("huberLoss", input, target);
  if (!(delta > 0 && delta < Number.POSITIVE_INFINITY))
    throw new RangeError(`huberLoss: delta must be positive and finite, got ${delta}`);
  const diff = input.sub(target);
  const z = diff.abs();
  return reduce(where(z.lt(delta), diff.square().mul(0.5), z.sub(0.5 * delta).mul(delta)), reduction);
}

/** The reductions of `klDiv`: those of the other losses, and `"batchmean"` (the sum divided by the batch size). */
export type KlDivReduction = Reduction | "batchmean";

/** Options of `klDiv`. */
export interface KlDivOptions {
  /** Default `"mean"` (over every element, as PyTorch's; `"batchmean"` gives the true KL divergence). */
  reduction?: KlDivReduction;
  /** The target holds log-probabilities (default false: probabilities). */
  logTarget?: boolean;
}

/**
 * Kullback–Leibler divergence of the target distribution from the input's, given log-probabilities
 * `input`: per element `target·(log target − input)` (0 where target = 0), or
 * `e^target·(target − input)` with `logTarget`. `"batchmean"` divides the sum by `input.shape[0]`.
 */
export function klDiv(
  input: Tensor,
  target: Tensor,
  { reduction = "mean", logTarget = false }: KlDivOptions = {},
): Tensor {
  assertFloat(input, "klDiv input");
  if (reduction !== "batchmean") assertReduction(reduction, "klDiv");
  assertSameShape("klDiv", input, target);
  let loss: Tensor;
  if (logTarget) {
    loss = target.exp().mul(target.sub(input));
  } else {
    // xlogy(t, t) = 0 at t = 0; log of a safe 1 there keeps the unselected branch's gradient finite.
    const positive = target.gt(0);
    const entropyTerm = where(positive, target.mul(where(positive, target, 1).log()), 0);
    loss = entropyTerm.sub(target.mul(input));
  }
  if (reduction !== "batchmean") return reduce(loss, reduction);
  return input.ndim === 0 ? loss.sum() : loss.sum().div(input.shape[0]);
}

/** Below x·(1 − x) = 1e-12 PyTorch's BCE gradient divides by 1e-12 (rounded to float32 there) instead. */
const BCE_GRAD_EPSILON = Math.fround(1e-12);

/** Elementwise `−(y·max(log x, −100) + (1 − y)·max(log(1 − x), −100))`, with PyTorch's backward. */
const binaryCrossEntropyTerms = defineOp({
  name: "binaryCrossEntropy",
  forward: (x: Tensor, y: Tensor) => ({
    output: y
      .sub(1)
      .mul(x.neg().add(1).log().clamp(-100))
      .sub(y.mul(x.log().clamp(-100))),
    saved: [x, y] as const,
  }),
  // ∂/∂x = (x − y)/max(x(1 − x), ε), ∂/∂y = log(1 − x) − log x, as PyTorch's (the latter unclamped).
  backward: (dy, [x, y], [needsX, needsY]) => [
    needsX ? dy.mul(x.sub(y)).div(x.mul(x.neg().add(1)).clamp(BCE_GRAD_EPSILON)) : null,
    needsY ? dy.mul(x.neg().add(1).log().sub(x.log())) : null,
  ],
  twiceDifferentiable: true,
});

/** Options of `binaryCrossEntropy`. */
export interface BceOptions {
  /** Rescales each element's loss (broadcast to the input); default none. */
  weight?: Tensor | null;
  /** Default `"mean"`. */
  reduction?: Reduction;
}

/**
 * Binary cross entropy of probabilities `input` in [0, 1] against targets in [0, 1]:
 * `−w·(y·log x + (1 − y)·log(1 − x))`, each log clamped to ≥ −100 as PyTorch's (so x = 0 or 1 gives
 * a finite loss), reduced. For logits use `binaryCrossEntropyWithLogits`, which is stabler.
 */
export function binaryCrossEntropy(
  input: Tensor,
  target: Tensor,
  { weight = null, reduction = "mean" }: BceOptions = {},
): Tensor {
  assertFloat(input, "binaryCrossEntropy input");
  assertReduction(reduction, "binaryCrossEntropy");
  assertSameShape("binaryCrossEntropy", input, target);
  if (input.size > 0) {
    const bounds = noGrad(() => [input.min(), input.max()]);
    checkValues(
      bounds,
      ([[low], [high]]) =>
        low >= 0 && high <= 1
          ? null
          : new RangeError(
              `binaryCrossEntropy: all elements of input should be between 0 and 1, got ` +
                `${formatValue(low >= 0 ? high : low)}: pass probabilities (or use binaryCrossEntropyWithLogits)`,
            ),
      // Comparisons with NaN are false, so NaN fails too.
      () => where(bounds[0].ge(0), where(bounds[1].le(1), 0, 1), 1),
    );
    for (const bound of bounds) bound.dispose();
  }
  const loss = binaryCrossEntropyTerms(input, target.to(input.dtype));
  return reduce(weight === null ? loss : loss.mul(weight), reduction);
}
